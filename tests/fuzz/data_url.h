/* data_url.h: hand fuzz input to htslib in memory as a "data:;base64,"
 * URL, so that the library's readers open it by name like a file. */
#ifndef MD_FUZZ_DATA_URL_H
#define MD_FUZZ_DATA_URL_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* malloc'ed URL holding data[size], or NULL. */
static inline char *data_url(const uint8_t *data, size_t size)
{
    static const char b64[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    static const char prefix[] = "data:;base64,";
    char *url = malloc(sizeof prefix + (size + 2) / 3 * 4);
    if (!url) return NULL;
    memcpy(url, prefix, sizeof prefix - 1);
    char *o = url + sizeof prefix - 1;
    for (size_t i = 0; i < size; i += 3) {
        uint32_t v = (uint32_t)data[i] << 16;
        if (i + 1 < size) v |= (uint32_t)data[i + 1] << 8;
        if (i + 2 < size) v |= data[i + 2];
        *o++ = b64[(v >> 18) & 63];
        *o++ = b64[(v >> 12) & 63];
        *o++ = i + 1 < size ? b64[(v >> 6) & 63] : '=';
        *o++ = i + 2 < size ? b64[v & 63] : '=';
    }
    *o = '\0';
    return url;
}

#endif
