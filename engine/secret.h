/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Secrets given as QEMU's -object secret,id=ID,data=TEXT or ...,file=PATH (with
 * format=raw, the default, or format=base64), for options that name them
 * (-spice password-secret=ID): a password in a file stays out of `ps` and shell history.
 * file= takes the file's bytes as they are, trailing newline included, as QEMU does.
 * Main thread only. */
#pragma once

#include <glib.h>
#include <stdbool.h>

typedef struct SecretStore SecretStore;

SecretStore *secret_store_new(void);
void secret_store_free(SecretStore *s);
/* Parses one -object text ("secret,id=pw,file=/run/pw"); other object types, a
 * missing or repeated id, both or neither of data= and file=, an unreadable file or
 * bad base64 are one error (VIREO_ERROR_INVALID or _NOT_FOUND). */
bool secret_store_add(SecretStore *s, const char *spec, GError **err);
/* The secret's text, or NULL when no secret has that id. */
const char *secret_store_lookup(const SecretStore *s, const char *id);
