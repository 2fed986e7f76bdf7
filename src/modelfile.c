/* modelfile.c: model files. The native format is safetensors whose tensor
 * names follow the checkpoints users bring (mamba_ssm, Caduceus) and whose
 * metadata carries the config, the tokenizer and the provenance. Hugging
 * Face style directories (config.json + model.safetensors) of Caduceus and
 * mamba_ssm checkpoints load directly. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <jansson.h>

#include "model.h"
#include "safetensors.h"

#define META_CONFIG "mambadna.config"
#define META_TOKENIZER "mambadna.tokenizer"
#define META_FORMAT "mambadna.format"

/* ---- Hugging Face config.json ------------------------------------------ */

static int json_int_field(json_t *o, const char *key, int dflt)
{
    json_t *v = json_object_get(o, key);
    return json_is_integer(v) ? (int)json_integer_value(v) : dflt;
}

static int json_bool_field(json_t *o, const char *key, int dflt)
{
    json_t *v = json_object_get(o, key);
    return json_is_boolean(v) ? json_is_true(v) : dflt;
}

int md_config_from_hf_json(const char *text, size_t len, const char *path, md_config *c)
{
    json_error_t err;
    json_t *o = json_loadb(text, len, 0, &err);
    int ret = 0;
    if (!o || !json_is_object(o)) {
        json_decref(o);
        return md_error(MD_ERR_FORMAT, "%s: not a JSON object (%s, line %d)", path, err.text, err.line);
    }
    const char *type = json_string_value(json_object_get(o, "model_type"));
    int caduceus = type && !strcmp(type, "caduceus");
    if (type && !caduceus && strcmp(type, "mamba") != 0) {
        ret = md_error(MD_ERR_FORMAT, "%s: model_type '%s' is not supported (caduceus or mamba)", path, type);
        goto out;
    }
    int d_model = json_int_field(o, "d_model", 0), n_layer = json_int_field(o, "n_layer", 0);
    if (d_model < 1 || n_layer < 1) {
        ret = md_error(MD_ERR_FORMAT, "%s: d_model and n_layer must be positive integers", path);
        goto out;
    }
    int arch = MD_ARCH_MAMBA;
    if (caduceus) {
        if (!json_bool_field(o, "bidirectional", 1) || !json_bool_field(o, "bidirectional_weight_tie", 1)) {
            ret = md_error(MD_ERR_FORMAT, "%s: only bidirectional Caduceus models with tied "
                           "in/out projections are supported", path);
            goto out;
        }
        arch = json_bool_field(o, "rcps", 0) ? MD_ARCH_CADUCEUS_PS : MD_ARCH_CADUCEUS_PH;
    }
    md_config_init(c, arch, d_model, n_layer);
    int vocab = json_int_field(o, "vocab_size", MD_VOCAB_SIZE);
    int mult = json_int_field(o, "pad_vocab_size_multiple", 1);
    if (mult > 1 && vocab % mult) vocab += mult - vocab % mult;
    c->vocab_size = vocab;
    c->rms_norm = json_bool_field(o, "rms_norm", 1);
    c->residual_in_fp32 = json_bool_field(o, "residual_in_fp32", 1);
    c->fused_add_norm = json_bool_field(o, "fused_add_norm", 1);
    json_t *eps = json_object_get(o, "norm_epsilon");
    if (json_is_number(eps)) c->norm_eps = (float)json_number_value(eps);
    json_t *ssm = json_object_get(o, "ssm_cfg");
    if (json_is_object(ssm)) {
        c->d_state = json_int_field(ssm, "d_state", c->d_state);
        c->d_conv = json_int_field(ssm, "d_conv", c->d_conv);
        c->expand = json_int_field(ssm, "expand", c->expand);
        c->dt_rank = json_int_field(ssm, "dt_rank", c->dt_rank); /* "auto" keeps the default */
        const char *layer = json_string_value(json_object_get(ssm, "layer"));
        if (layer && strcmp(layer, "Mamba1") != 0) {
            ret = md_error(MD_ERR_FORMAT, "%s: ssm_cfg.layer '%s' is not supported (Mamba1)", path, layer);
            goto out;
        }
    }
    if (json_int_field(o, "d_intermediate", 0) != 0 || json_array_size(json_object_get(o, "attn_layer_idx")) > 0) {
        ret = md_error(MD_ERR_FORMAT, "%s: MLP or attention layers are not supported", path);
        goto out;
    }
    if (!caduceus && !json_bool_field(o, "tie_embeddings", 1)) {
        ret = md_error(MD_ERR_FORMAT, "%s: untied LM heads are not supported", path);
        goto out;
    }
    const char *strategy = json_string_value(json_object_get(o, "bidirectional_strategy"));
    if (strategy && !strcmp(strategy, "ew_multiply")) c->combine = MD_COMBINE_MUL;
    else if (strategy && strcmp(strategy, "add") != 0) {
        ret = md_error(MD_ERR_FORMAT, "%s: bidirectional_strategy '%s' is not supported", path, strategy);
        goto out;
    }
    json_t *cmap = json_object_get(o, "complement_map");
    if (json_is_object(cmap)) { /* keys are token ids as strings */
        const char *key;
        json_t *val;
        json_object_foreach(cmap, key, val) {
            int id = atoi(key);
            if (!json_is_integer(val) || json_integer_value(val) != md_complement_token(id)) {
                ret = md_error(MD_ERR_FORMAT, "%s: complement_map[%s] differs from the "
                               "tokenizer's (A=7 C=8 G=9 T=10)", path, key);
                goto out;
            }
        }
    }
    ret = md_config_check(c);
out:
    json_decref(o);
    return ret;
}

static int config_from_hf(const char *path, md_config *c)
{
    FILE *f = fopen(path, "rb");
    if (!f) return md_error(MD_ERR_IO, "cannot open %s: %s", path, strerror(errno));
    char *text = NULL;
    size_t len = 0, cap = 0, n;
    do { /* a config.json is a few hundred bytes */
        if (len + 4096 > cap) {
            char *t = realloc(text, cap = 2 * cap + 4096);
            if (!t) {
                free(text);
                fclose(f);
                return md_error(MD_ERR_NOMEM, "out of memory reading %s", path);
            }
            text = t;
        }
        len += n = fread(text + len, 1, cap - len, f);
    } while (n > 0);
    int failed = ferror(f);
    fclose(f);
    int ret = failed ? md_error(MD_ERR_IO, "cannot read %s", path)
                     : md_config_from_hf_json(text, len, path, c);
    free(text);
    return ret;
}

/* ---- tensors ------------------------------------------------------------ */

/* Tensors a checkpoint may carry besides the parameters: tied aliases (the
 * reverse mixers' projections, the LM head) and the RC buffers of PS models. */
static int is_known_extra(const md_model *m, const char *name)
{
    size_t n = strlen(name);
#define ENDS(s) (n >= strlen(s) && !strcmp(name + n - strlen(s), s))
    if (!strcmp(name, "lm_head.weight") || !strcmp(name, "lm_head.lm_head.weight") ||
        ENDS("complement_map"))
        return 1;
    if (m->cfg.arch != MD_ARCH_MAMBA && strstr(name, "mamba_rev.") &&
        (ENDS("in_proj.weight") || ENDS("out_proj.weight")))
        return 1;
#undef ENDS
    return 0;
}

static int load_tensors(md_model *m, const md_st_file *f, const char *path)
{
    for (int i = 0; i < m->n_table; i++) {
        const md_param_entry *e = &m->table[i];
        const md_st_tensor *t = md_st_find(f, e->name);
        if (!t) return md_error(MD_ERR_FORMAT, "%s: tensor %s is missing", path, e->name);
        int same = t->ndim == e->ndim;
        for (int d = 0; same && d < e->ndim; d++) same = t->shape[d] == e->shape[d];
        if (!same) {
            char want[96] = "", got[96] = "";
            for (int d = 0; d < e->ndim; d++)
                snprintf(want + strlen(want), sizeof want - strlen(want), "%s%lld", d ? "," : "", (long long)e->shape[d]);
            for (int d = 0; d < t->ndim; d++)
                snprintf(got + strlen(got), sizeof got - strlen(got), "%s%lld", d ? "," : "", (long long)t->shape[d]);
            return md_error(MD_ERR_FORMAT, "%s: tensor %s has shape [%s], the config implies [%s]",
                            path, e->name, got, want);
        }
        if (t->dtype != MD_F32 && t->dtype != MD_F16 && t->dtype != MD_BF16 && t->dtype != MD_F64)
            return md_error(MD_ERR_FORMAT, "%s: tensor %s has dtype %s; F32, F16, BF16 or F64 expected",
                            path, e->name, md_st_dtype_name(t->dtype));
        int ret = md_st_to_f32(t, m->params + e->offset);
        if (ret < 0) return ret;
        const float *v = m->params + e->offset; /* (numel) */
        for (int64_t k = 0; k < e->numel; k++)
            if (!isfinite(v[k]))
                return md_error(MD_ERR_FORMAT, "%s: tensor %s holds a non-finite value (%s at "
                                "element %lld): the model is damaged or its training diverged; "
                                "use an earlier checkpoint", path, e->name,
                                isnan(v[k]) ? "NaN" : "infinity", (long long)k);
    }
    for (int i = 0; i < f->n_tensors; i++) {
        const char *name = f->tensors[i].name;
        if (!md_model_find_param(m, name) && !is_known_extra(m, name))
            return md_error(MD_ERR_FORMAT, "%s: unexpected tensor %s for a %s model of %d layers",
                            path, name, md_arch_name(m->cfg.arch), m->cfg.n_layer);
    }
    return 0;
}

static md_model *load_native(const char *path)
{
    md_st_file f;
    if (md_st_open(path, &f) < 0) return NULL;
    md_model *m = NULL;
    md_config cfg;
    const char *json = md_st_meta(&f, META_CONFIG);
    const char *tok = md_st_meta(&f, META_TOKENIZER);
    if (!json) {
        md_error(MD_ERR_FORMAT, "%s: no %s metadata: not a mambadna model file (for a Hugging "
                 "Face checkpoint give its directory)", path, META_CONFIG);
        goto out;
    }
    if (tok && strcmp(tok, MD_TOKENIZER_ID) != 0) {
        md_error(MD_ERR_FORMAT, "%s: tokenizer '%s' does not match mambadna's '%s'", path, tok,
                 MD_TOKENIZER_ID);
        goto out;
    }
    if (md_config_from_json(json, &cfg) < 0) {
        char why[512]; /* the message is rewritten with the file name */
        snprintf(why, sizeof why, "%s", md_last_error());
        md_error(MD_ERR_FORMAT, "%s: %s", path, why);
        goto out;
    }
    if (!(m = md_model_alloc(&cfg))) goto out;
    if (load_tensors(m, &f, path) < 0) goto fail;
    for (int i = 0; i < f.n_meta; i++)
        if (strcmp(f.meta_keys[i], META_CONFIG) && strcmp(f.meta_keys[i], META_FORMAT) &&
            md_model_set_meta(m, f.meta_keys[i], f.meta_values[i]) < 0)
            goto fail;
    goto out;
fail:
    md_model_free(m);
    m = NULL;
out:
    md_st_close(&f);
    return m;
}

static md_model *load_hf_dir(const char *dir)
{
    char cfg_path[4096], st_path[4096];
    snprintf(cfg_path, sizeof cfg_path, "%s/config.json", dir);
    snprintf(st_path, sizeof st_path, "%s/model.safetensors", dir);
    md_config cfg;
    if (config_from_hf(cfg_path, &cfg) < 0) return NULL;
    struct stat sb;
    if (stat(st_path, &sb) != 0) {
        md_error(MD_ERR_IO, "%s: no model.safetensors (PyTorch .bin checkpoints are not read: "
                 "save the weights as safetensors)", dir);
        return NULL;
    }
    md_st_file f;
    if (md_st_open(st_path, &f) < 0) return NULL;
    md_model *m = md_model_alloc(&cfg);
    if (m && (load_tensors(m, &f, st_path) < 0 || md_model_set_meta(m, "mambadna.source", dir) < 0)) {
        md_model_free(m);
        m = NULL;
    }
    md_st_close(&f);
    return m;
}

md_model *md_model_load(const char *path)
{
    struct stat sb;
    if (stat(path, &sb) != 0) {
        md_error(MD_ERR_IO, "%s: no such model file or directory", path);
        return NULL;
    }
    return S_ISDIR(sb.st_mode) ? load_hf_dir(path) : load_native(path);
}

int md_model_save(const md_model *m, const char *path, int dtype)
{
    if (dtype != MD_F32 && dtype != MD_BF16 && dtype != MD_F16)
        return md_error(MD_ERR_ARG, "model files store F32, BF16 or F16 tensors");
    md_st_entry *entries = calloc((size_t)m->n_table, sizeof *entries);
    int n_meta = m->n_meta + 3;
    char **keys = calloc((size_t)n_meta, sizeof *keys), **values = calloc((size_t)n_meta, sizeof *values);
    char *json = md_config_to_json(&m->cfg);
    int ret;
    if (!entries || !keys || !values || !json) {
        ret = md_error(MD_ERR_NOMEM, "out of memory");
        goto out;
    }
    for (int i = 0; i < m->n_table; i++) {
        const md_param_entry *e = &m->table[i];
        entries[i] = (md_st_entry){.name = e->name, .dtype = dtype, .ndim = e->ndim,
                                   .data = m->params + e->offset, .src_is_f32 = 1};
        memcpy(entries[i].shape, e->shape, sizeof e->shape);
    }
    int k = 0;
    keys[k] = META_CONFIG; values[k++] = json;
    keys[k] = META_TOKENIZER; values[k++] = MD_TOKENIZER_ID;
    keys[k] = META_FORMAT; values[k++] = "1";
    for (int i = 0; i < m->n_meta; i++)
        if (strcmp(m->meta_keys[i], META_TOKENIZER) != 0) {
            keys[k] = m->meta_keys[i];
            values[k++] = m->meta_values[i];
        }
    ret = md_st_write(path, entries, m->n_table, keys, values, k);
out:
    free(entries);
    free(keys);
    free(values);
    free(json);
    return ret;
}
