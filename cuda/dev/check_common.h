/* check_common.h: helpers shared by the GPU check programs of cuda/dev:
 * a seeded generator, random models moved away from their initial values,
 * random tokens, NaN poisoning. (Included once per program.) */
#ifndef MD_CUDA_DEV_CHECK_COMMON_H
#define MD_CUDA_DEV_CHECK_COMMON_H

#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "model.h"

static uint64_t rng_state;
static inline double urand(void) /* [0, 1) */
{
    rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
    return (double)(rng_state >> 11) * (1.0 / 9007199254740992.0);
}

static inline int ends_with(const char *s, const char *suf)
{
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && !strcmp(s + a - b, suf);
}

/* Move every tensor away from its initial value. */
static inline void perturb(md_model *m)
{
    for (int i = 0; i < m->n_table; i++) {
        const md_param_entry *e = &m->table[i];
        float *p = m->params + e->offset;
        int is_norm = strstr(e->name, "norm") != NULL;
        for (int64_t j = 0; j < e->numel; j++) {
            double r = 2 * urand() - 1;
            if (ends_with(e->name, "A_log")) p[j] += (float)(0.2 * r);
            else if (ends_with(e->name, "dt_proj.bias")) p[j] += (float)(0.3 * r);
            else if (is_norm && ends_with(e->name, "weight")) p[j] = (float)(1 + 0.5 * r);
            else if (is_norm && ends_with(e->name, "bias")) p[j] = (float)(0.2 * r);
            else if (ends_with(e->name, "D")) p[j] = (float)(1 + 0.5 * r);
            else if (ends_with(e->name, "conv1d.bias")) p[j] += (float)(0.2 * r);
            else p[j] = (float)(p[j] * (1 + 0.3 * r) + 0.01 * (2 * urand() - 1));
        }
    }
}

static inline uint8_t *random_tokens(int64_t n, int V)
{
    uint8_t *t = malloc((size_t)n);
    for (int64_t i = 0; i < n; i++) t[i] = (uint8_t)(urand() * V);
    return t;
}

static inline void poison(float *x, int64_t n)
{
    for (int64_t i = 0; i < n; i++) x[i] = NAN;
}

/* The options of a check program ([--seed N] [--quick]): seeds the
 * generator and prints the header line. Returns -1 to run, else the exit
 * status (2: usage; 0: no CUDA device, the checks skipped). */
static inline int check_start(const char *name, int argc, char **argv, int *quick)
{
    uint64_t seed = (uint64_t)time(NULL);
    *quick = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--seed") && i + 1 < argc) seed = strtoull(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--quick")) *quick = 1;
        else {
            fprintf(stderr, "usage: %s [--seed N] [--quick]\n", name);
            return 2;
        }
    }
    if (md_device_count() < 1) {
        printf("%s skipped: no CUDA device\n", name);
        return 0;
    }
    rng_state = seed;
    printf("%s: seed %llu, %d CPU threads\n", name, (unsigned long long)seed, omp_get_max_threads());
    return -1;
}

#endif
