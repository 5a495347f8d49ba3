# Two commands (README): `make run` and `make test`. Everything else is a helper.
BUILD ?= build
MESON_OPTS ?=

.PHONY: all deps deps-run build run test clean sanitize

all: build

deps:
	@sh scripts/setup-deps.sh test

deps-run:
	@sh scripts/setup-deps.sh run

$(BUILD)/build.ninja:
	meson setup $(BUILD) $(MESON_OPTS)

build: $(BUILD)/build.ninja
	ninja -C $(BUILD)

run: deps-run
	@$(MAKE) --no-print-directory build
	@sh scripts/run-demo.sh $(BUILD)

test: deps
	@$(MAKE) --no-print-directory build
	meson test -C $(BUILD) --print-errorlogs --num-processes 2

# Unit tests under AddressSanitizer and UBSan, in a build directory of their own; a UBSan
# report fails the test (UBSan alone only prints).
sanitize: deps
	@[ -f build-asan/build.ninja ] || meson setup build-asan -Db_sanitize=address,undefined -Db_lundef=false
	ninja -C build-asan
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 meson test -C build-asan --suite unit --print-errorlogs

clean:
	rm -rf $(BUILD) build-asan
