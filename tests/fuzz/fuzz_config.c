/* fuzz_config.c: a model's config.json (Caduceus or mamba_ssm, as in a
 * Hugging Face checkpoint directory) and the config JSON of the native
 * format's metadata, on arbitrary bytes. An accepted config must pass
 * md_config_check; a refused one must say why; nothing may crash or leak. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mambadna.h"
#include "model.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int init;
    if (!init) {
        md_set_log_level(MD_LOG_ERROR);
        init = 1;
    }
    md_config c;
    int ret = md_config_from_hf_json((const char *)data, size, "config.json", &c);
    if (ret == 0 ? md_config_check(&c) != 0 : ret > -2 || !*md_last_error()) abort();
    char *text = malloc(size + 1);
    if (!text) return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    ret = md_config_from_json(text, &c);
    free(text);
    if (ret == 0 ? md_config_check(&c) != 0 : ret > -2 || !*md_last_error()) abort();
    if (ret == 0) { /* what is accepted round-trips */
        char *json = md_config_to_json(&c), *again = NULL;
        md_config back;
        if (!json || md_config_from_json(json, &back) != 0 ||
            !(again = md_config_to_json(&back)) || strcmp(json, again) != 0)
            abort();
        free(json);
        free(again);
    }
    return 0;
}
