/* SPDX-License-Identifier: GPL-2.0-or-later */
/* A small SPICE guest agent for the vdagent tests (tests/guests/vdagent.py): the Linux
 * kit has no spice-vdagent, so this speaks the part of its protocol the tests need on a
 * com.redhat.spice.0 port, and prints what it receives on stdout (the serial console).
 * Built -m32 -static for the i386 guest's initramfs; it never runs on the host.
 *
 * Usage: vdagent-guest /dev/vportNpM TAG TEXT
 *   - answers a capabilities message that asks for ours with CLIPBOARD_BY_DEMAND,
 *     MONITORS_CONFIG and REPLY, then grabs its clipboard with TEXT (UTF8_TEXT);
 *   - asks for the text of every UTF8_TEXT grab and prints it as
 *     "VDAGENT-TAG CLIPBOARD len=N text=T" (T's non-printable bytes as '.');
 *   - answers a request for UTF8_TEXT with TEXT;
 *   - prints the first monitor of a monitors config and replies with success;
 *   - prints any other message's type and size;
 *   - on the clipboard text "vireo-break-stream" writes a chunk that breaks the
 *     protocol (a size over 2048 and junk), then closes and reopens the port
 *     ("REOPENED"), as an agent that crashed and restarted would;
 *   - on the clipboard text "vireo-split-caps" writes the first 18 bytes of a
 *     capabilities message ("HALF") and the other 18 before it handles the next
 *     message it receives ("REST"): the host holds half a message meanwhile (the
 *     savevm test saves then).
 * The wire format is spice-protocol's vd_agent.h (chunks of at most 2048 bytes). */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum {
    CHUNK_MAX = 2048,
    PORT_CLIENT = 1,
    MSG_MONITORS_CONFIG = 2,
    MSG_REPLY = 3,
    MSG_CLIPBOARD = 4,
    MSG_ANNOUNCE_CAPABILITIES = 6,
    MSG_CLIPBOARD_GRAB = 7,
    MSG_CLIPBOARD_REQUEST = 8,
    MSG_CLIPBOARD_RELEASE = 9,
    CAP_MONITORS_CONFIG = 1,
    CAP_REPLY = 2,
    CAP_CLIPBOARD_BY_DEMAND = 5,
    TYPE_UTF8_TEXT = 1,
    MESSAGE_MAX = 1 << 20,
};

static int fd;
static const char *tag, *text;
static int restart;
static uint8_t split_rest[18];
static int split_pending;

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
    char line[600];
    int n = snprintf(line, sizeof(line), "VDAGENT-%s ", tag);
    va_list ap;
    va_start(ap, fmt);
    n += vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
    va_end(ap);
    if (n > (int)sizeof(line) - 2)
        n = (int)sizeof(line) - 2;
    line[n++] = '\n';
    /* One write per line: the agents of two ports share the console. */
    if (write(1, line, (size_t)n) < 0)
        exit(1);
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static void write_all(const uint8_t *b, size_t n)
{
    while (n) {
        ssize_t w = write(fd, b, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            say("FAILED write %s", strerror(errno));
            exit(1);
        }
        b += w;
        n -= (size_t)w;
    }
}

/* One message as chunks; data may be NULL when len is 0. */
static void send_msg(uint32_t type, const uint8_t *data, size_t len)
{
    size_t total = 20 + len;
    uint8_t *m = calloc(1, total);
    if (!m)
        exit(1);
    put32(m, 1);
    put32(m + 4, type);
    put32(m + 16, (uint32_t)len);
    if (len)
        memcpy(m + 20, data, len);
    for (size_t off = 0; off < total;) {
        size_t n = total - off < CHUNK_MAX ? total - off : CHUNK_MAX;
        uint8_t ch[8 + CHUNK_MAX];
        put32(ch, PORT_CLIENT);
        put32(ch + 4, (uint32_t)n);
        memcpy(ch + 8, m + off, n);
        write_all(ch, 8 + n);
        off += n;
    }
    free(m);
}

static void send_text(void)
{
    size_t n = strlen(text);
    uint8_t *b = malloc(4 + n);
    if (!b)
        exit(1);
    put32(b, TYPE_UTF8_TEXT);
    memcpy(b + 4, text, n);
    send_msg(MSG_CLIPBOARD, b, 4 + n);
    free(b);
}

static void handle(uint32_t port, uint32_t type, const uint8_t *d, uint32_t len)
{
    uint8_t b[12];
    switch (type) {
    case MSG_ANNOUNCE_CAPABILITIES:
        say("CAPS port=%u request=%u caps=0x%x", port, len >= 4 ? get32(d) : 0, len >= 8 ? get32(d + 4) : 0);
        if (len >= 4 && get32(d)) {
            put32(b, 0);
            put32(b + 4, 1u << CAP_MONITORS_CONFIG | 1u << CAP_REPLY | 1u << CAP_CLIPBOARD_BY_DEMAND);
            send_msg(MSG_ANNOUNCE_CAPABILITIES, b, 8);
            put32(b, TYPE_UTF8_TEXT);
            send_msg(MSG_CLIPBOARD_GRAB, b, 4);
            say("GRABBED");
        }
        break;
    case MSG_CLIPBOARD_GRAB: {
        int has_text = 0;
        for (uint32_t i = 0; i + 4 <= len; i += 4)
            has_text |= get32(d + i) == TYPE_UTF8_TEXT;
        say("GRAB types=%u text=%d", len / 4, has_text);
        if (has_text) {
            put32(b, TYPE_UTF8_TEXT);
            send_msg(MSG_CLIPBOARD_REQUEST, b, 4);
        }
        break;
    }
    case MSG_CLIPBOARD: {
        if (len < 4) {
            say("CLIPBOARD short %u", len);
            break;
        }
        char shown[256];
        uint32_t n = len - 4, k = n < sizeof(shown) - 1 ? n : sizeof(shown) - 1;
        for (uint32_t i = 0; i < k; i++)
            shown[i] = d[4 + i] >= 0x20 && d[4 + i] < 0x7f ? (char)d[4 + i] : '.';
        shown[k] = 0;
        say("CLIPBOARD type=%u len=%u text=%s", get32(d), n, shown);
        if (!strcmp(shown, "vireo-break-stream")) {
            static const uint8_t junk[] = { 1, 0, 0, 0, 0xff, 0xff, 0, 0, 'j', 'u', 'n', 'k' };
            write_all(junk, sizeof(junk));
            say("BROKE");
            restart = 1;
        }
        if (!strcmp(shown, "vireo-split-caps")) {
            /* ANNOUNCE_CAPABILITIES without a request: chunk header, message header, the
             * request flag and our capabilities; 36 bytes in two writes. */
            uint8_t m[36] = { 0 };
            put32(m, PORT_CLIENT);
            put32(m + 4, 28);
            put32(m + 8, 1);
            put32(m + 12, MSG_ANNOUNCE_CAPABILITIES);
            put32(m + 24, 8);
            put32(m + 32, 1u << CAP_MONITORS_CONFIG | 1u << CAP_REPLY | 1u << CAP_CLIPBOARD_BY_DEMAND);
            write_all(m, 18);
            memcpy(split_rest, m + 18, 18);
            split_pending = 1;
            say("HALF");
        }
        break;
    }
    case MSG_CLIPBOARD_REQUEST:
        say("REQUEST type=%u", len >= 4 ? get32(d) : 0);
        if (len >= 4 && get32(d) == TYPE_UTF8_TEXT) {
            send_text();
        } else {
            put32(b, 0);
            send_msg(MSG_CLIPBOARD, b, 4);
        }
        break;
    case MSG_CLIPBOARD_RELEASE:
        say("RELEASE");
        break;
    case MSG_MONITORS_CONFIG:
        /* VDAgentMonitorsConfig: count, flags, then {height, width, depth, x, y} each. */
        if (len >= 28 && get32(d) >= 1)
            say("MONITORS n=%u first=%ux%u", get32(d), get32(d + 12), get32(d + 8));
        else
            say("MONITORS short %u", len);
        put32(b, MSG_MONITORS_CONFIG);
        put32(b + 4, 1); /* VD_AGENT_SUCCESS */
        send_msg(MSG_REPLY, b, 8);
        break;
    default:
        say("MSG type=%u size=%u port=%u", type, len, port);
        break;
    }
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: vdagent-guest PORT TAG TEXT\n");
        return 2;
    }
    tag = argv[2];
    text = argv[3];
    static uint8_t msg[20 + MESSAGE_MAX];
    uint8_t hdr[8];
    size_t hdr_len = 0, msg_len = 0;
    uint32_t chunk_left = 0, port = 0;
    fd = -1;
    for (;;) {
        if (restart || fd < 0) {
            if (fd >= 0)
                close(fd);
            fd = open(argv[1], O_RDWR);
            if (fd < 0) {
                say("FAILED open %s: %s", argv[1], strerror(errno));
                return 1;
            }
            say("%s %s", restart ? "REOPENED" : "OPEN", argv[1]);
            restart = 0;
            hdr_len = msg_len = 0;
            chunk_left = 0;
        }
        uint8_t buf[4096];
        ssize_t r = read(fd, buf, sizeof(buf));
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            say("FAILED read %s", r ? strerror(errno) : "end of file");
            return 1;
        }
        for (ssize_t i = 0; i < r;) {
            if (!chunk_left) {
                hdr[hdr_len++] = buf[i++];
                if (hdr_len == 8) {
                    hdr_len = 0;
                    port = get32(hdr);
                    chunk_left = get32(hdr + 4);
                    if (!chunk_left || chunk_left > CHUNK_MAX) {
                        say("FAILED chunk of %u bytes", chunk_left);
                        return 1;
                    }
                }
                continue;
            }
            msg[msg_len++] = buf[i++];
            chunk_left--;
            if (msg_len == 20 && get32(msg + 16) > MESSAGE_MAX) {
                say("FAILED message of %u bytes", get32(msg + 16));
                return 1;
            }
            if (msg_len >= 20 && msg_len == 20 + get32(msg + 16)) {
                if (split_pending) {
                    write_all(split_rest, sizeof(split_rest));
                    split_pending = 0;
                    say("REST");
                }
                handle(port, get32(msg + 4), msg + 20, get32(msg + 16));
                msg_len = 0;
                if (restart)
                    break;
            }
        }
    }
}
