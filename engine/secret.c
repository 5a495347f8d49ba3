/* SPDX-License-Identifier: GPL-2.0-or-later */
/* -object secret: see secret.h. */
#include "engine/secret.h"
#include "engine/config.h"

#include <string.h>

struct SecretStore {
    GHashTable *by_id; /* id -> secret text (wiped when freed) */
};

static void secret_wipe_free(gpointer p)
{
    char *text = p;
    if (text)
        memset(text, 0, strlen(text));
    g_free(text);
}

SecretStore *secret_store_new(void)
{
    SecretStore *s = g_new0(SecretStore, 1);
    s->by_id = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, secret_wipe_free);
    return s;
}

void secret_store_free(SecretStore *s)
{
    if (!s)
        return;
    g_hash_table_destroy(s->by_id);
    g_free(s);
}

bool secret_store_add(SecretStore *s, const char *spec, GError **err)
{
    g_auto(GStrv) parts = g_strsplit(spec ? spec : "", ",", -1);
    const char *type = parts[0] ? parts[0] : "";
    if (g_str_has_prefix(type, "qom-type="))
        type += strlen("qom-type=");
    if (strcmp(type, "secret") != 0) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID, "object type '%s' is not known (only secret)", type);
        return false;
    }
    const char *id = NULL, *data = NULL, *file = NULL, *format = "raw";
    for (char **p = parts + 1; *p; p++) {
        char *eq = strchr(*p, '=');
        if (!eq) {
            g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID, "secret: '%s' is not KEY=VALUE (id, data, file, format)",
                        *p);
            return false;
        }
        *eq = '\0';
        const char *v = eq + 1;
        if (!strcmp(*p, "id"))
            id = v;
        else if (!strcmp(*p, "data"))
            data = v;
        else if (!strcmp(*p, "file"))
            file = v;
        else if (!strcmp(*p, "format"))
            format = v;
        else {
            g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID, "secret: unknown key '%s' (id, data, file, format)", *p);
            return false;
        }
    }
    if (!id || !*id) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID, "secret: needs id=ID");
        return false;
    }
    if (g_hash_table_contains(s->by_id, id)) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID, "secret: id '%s' is given twice", id);
        return false;
    }
    if (!data == !file) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID, "secret %s: give one of data=TEXT and file=PATH", id);
        return false;
    }
    if (strcmp(format, "raw") && strcmp(format, "base64")) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID, "secret %s: format=%s: expected raw or base64", id, format);
        return false;
    }
    char *bytes;
    gsize len;
    if (file) {
        g_autoptr(GError) ferr = NULL;
        if (!g_file_get_contents(file, &bytes, &len, &ferr)) {
            g_set_error(err, VIREO_ERROR, VIREO_ERROR_NOT_FOUND, "secret %s: %s", id, ferr->message);
            return false;
        }
    } else {
        bytes = g_strdup(data);
        len = strlen(data);
    }
    if (!strcmp(format, "base64")) {
        /* g_base64_decode skips bad characters: check the alphabet first. */
        g_strstrip(bytes);
        len = strlen(bytes);
        bool ok = len % 4 == 0;
        for (gsize i = 0; ok && i < len; i++)
            ok = g_ascii_isalnum(bytes[i]) || bytes[i] == '+' || bytes[i] == '/' || (bytes[i] == '=' && i >= len - 2);
        if (!ok) {
            secret_wipe_free(bytes);
            g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID, "secret %s: not valid base64", id);
            return false;
        }
        gsize out_len;
        guchar *dec = g_base64_decode(bytes, &out_len);
        secret_wipe_free(bytes);
        bytes = g_malloc(out_len + 1);
        memcpy(bytes, dec, out_len);
        bytes[out_len] = '\0';
        memset(dec, 0, out_len);
        g_free(dec);
        len = out_len;
    }
    if (memchr(bytes, '\0', len)) {
        secret_wipe_free(bytes);
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID, "secret %s: contains a NUL byte", id);
        return false;
    }
    g_hash_table_insert(s->by_id, g_strdup(id), bytes);
    return true;
}

const char *secret_store_lookup(const SecretStore *s, const char *id)
{
    return s && id ? g_hash_table_lookup(s->by_id, id) : NULL;
}
