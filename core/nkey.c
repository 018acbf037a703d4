/* nkeys: see nkey.h. */
#include "nkey.h"

#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/ed25519.h>

static uint16_t crc16(const uint8_t *p, size_t n)
{
    uint16_t crc = 0;
    for (size_t i = 0; i < n; i++) {
        crc ^= (uint16_t)(p[i] << 8);
        for (int b = 0; b < 8; b++)
            crc = (crc & 0x8000) ? (uint16_t)((crc << 1) ^ 0x1021) : (uint16_t)(crc << 1);
    }
    return crc;
}

static const char b32[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

static void random_bytes(uint8_t *p, size_t n)
{
    if (getrandom(p, n, 0) != (ssize_t)n)
        for (size_t i = 0; i < n; i++)
            p[i] = (uint8_t)rand();
}

void nkey_server_id(char out[57])
{
    uint8_t raw[35];
    raw[0] = NKEY_PREFIX_SERVER;
    random_bytes(raw + 1, 32);
    uint16_t crc = crc16(raw, 33);
    raw[33] = (uint8_t)(crc & 0xff);
    raw[34] = (uint8_t)(crc >> 8);
    int bits = 0, o = 0;
    uint32_t acc = 0;
    for (int i = 0; i < 35; i++) {
        acc = (acc << 8) | raw[i];
        bits += 8;
        while (bits >= 5) {
            out[o++] = b32[(acc >> (bits - 5)) & 31];
            bits -= 5;
        }
    }
    out[o] = 0; /* 280 bits: exactly 56 characters, no remainder */
}

bool nkey_decode_public(const char *s, uint8_t prefix, uint8_t key[32])
{
    if (!s || strlen(s) != 56)
        return false;
    uint8_t raw[35];
    int bits = 0, o = 0;
    uint32_t acc = 0;
    for (int i = 0; i < 56; i++) {
        const char *c = strchr(b32, s[i]);
        if (!c || !s[i])
            return false;
        acc = (acc << 5) | (uint32_t)(c - b32);
        bits += 5;
        if (bits >= 8) {
            raw[o++] = (uint8_t)(acc >> (bits - 8));
            bits -= 8;
        }
    }
    uint16_t crc = crc16(raw, 33);
    if (o != 35 || raw[0] != prefix || raw[33] != (crc & 0xff) || raw[34] != (crc >> 8))
        return false;
    memcpy(key, raw + 1, 32);
    return true;
}

void nkey_nonce(char out[NKEY_NONCE_LEN + 1])
{
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    uint8_t raw[12] = {0};
    random_bytes(raw, 11);
    int o = 0;
    for (int i = 0; i < 12 && o < NKEY_NONCE_LEN; i += 3) {
        uint32_t v = (uint32_t)raw[i] << 16 | (uint32_t)raw[i + 1] << 8 | raw[i + 2];
        for (int k = 0; k < 4 && o < NKEY_NONCE_LEN; k++)
            out[o++] = b64[(v >> (18 - 6 * k)) & 63];
    }
    out[o] = 0;
}

/* base64 (url or standard alphabet, padding optional) into out; its length, or -1. */
static int b64_decode(const char *s, uint8_t *out, int cap)
{
    int bits = 0, o = 0;
    uint32_t acc = 0;
    for (; *s && *s != '='; s++) {
        int v;
        char c = *s;
        if (c >= 'A' && c <= 'Z')
            v = c - 'A';
        else if (c >= 'a' && c <= 'z')
            v = c - 'a' + 26;
        else if (c >= '0' && c <= '9')
            v = c - '0' + 52;
        else if (c == '-' || c == '+')
            v = 62;
        else if (c == '_' || c == '/')
            v = 63;
        else
            return -1;
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            if (o == cap)
                return -1;
            out[o++] = (uint8_t)(acc >> (bits - 8));
            bits -= 8;
        }
    }
    return o;
}

bool nkey_verify(const uint8_t key[32], const char *msg, size_t len, const char *sig)
{
    uint8_t s[ED25519_SIG_SIZE + 2];
    if (!sig || b64_decode(sig, s, (int)sizeof s) != ED25519_SIG_SIZE)
        return false;
    ed25519_key k;
    if (wc_ed25519_init(&k) != 0)
        return false;
    int ok = 0;
    bool good = wc_ed25519_import_public(key, 32, &k) == 0 &&
                wc_ed25519_verify_msg(s, ED25519_SIG_SIZE, (const uint8_t *)msg, (uint32_t)len, &ok, &k) == 0 &&
                ok == 1;
    wc_ed25519_free(&k);
    return good;
}
