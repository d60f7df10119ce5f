/*
 * A small stand-in for libFuzzer's driver, for machines without clang. It
 * knows nothing of the target: link it with any file that defines
 * LLVMFuzzerTestOneInput. It runs every seed given on the command line (a
 * file, or every regular file in a directory), then deterministic pseudo-
 * random mutations of them (bit flips, byte changes, inserts, deletes,
 * truncation, splices, chunk copies), stacked 1-4 deep, until N inputs or the
 * time budget. Without coverage feedback it explores less than libFuzzer,
 * but it is reproducible: the same seeds and -seed give the same inputs.
 *
 * Finding a crash is the sanitizers' job (build with
 * -fsanitize=address,undefined). When an input kills the process, the
 * driver writes it to <prefix>crash-<n> first, so it can be replayed with
 * `-runs=0 FILE`.
 *
 *   fuzz_x [-runs=N] [-max_total_time=SECONDS] [-seed=S] [-max_len=BYTES]
 *          [-artifact_prefix=DIR/] SEED_FILE_OR_DIR...
 *
 * The flags are libFuzzer's, so one command line serves both drivers. The
 * environment gives defaults: QUELL_FUZZ_ITERATIONS (20000 mutations) and
 * QUELL_FUZZ_SECONDS (10). Output: "fuzz: N inputs, 0 crashes".
 */
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

extern int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Present only in sanitizer builds: lets the driver save the input before
 * ASan/UBSan end the process. */
extern void __sanitizer_set_death_callback(void (*callback)(void)) __attribute__((weak));

typedef struct {
    uint8_t *data;
    size_t len;
} input_t;

typedef struct {
    input_t *items;
    size_t n, cap;
} corpus_t;

/* ---- crash artifacts ---------------------------------------------------- */

static const uint8_t *cur_data;
static size_t cur_len;
static unsigned long long cur_index;
static char artifact_prefix[512] = "./";

/* Async-signal-safe: open/write/close only, the name built by hand. */
static void save_current(void)
{
    static volatile sig_atomic_t saved;
    if (saved || !cur_data) return;
    saved = 1;
    char path[600];
    size_t o = 0;
    for (const char *p = artifact_prefix; *p && o < 500; p++) path[o++] = *p;
    for (const char *p = "crash-"; *p; p++) path[o++] = *p;
    char digits[24];
    int nd = 0;
    unsigned long long v = cur_index;
    do {
        digits[nd++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (nd) path[o++] = digits[--nd];
    path[o] = '\0';
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) return;
    for (size_t off = 0; off < cur_len;) {
        ssize_t w = write(fd, cur_data + off, cur_len - off);
        if (w <= 0) break;
        off += (size_t)w;
    }
    close(fd);
    static const char msg[] = "fuzz: crashing input saved as ";
    ssize_t ignored = write(STDERR_FILENO, msg, sizeof(msg) - 1);
    ignored = write(STDERR_FILENO, path, o);
    ignored = write(STDERR_FILENO, "\n", 1);
    (void)ignored;
}

static void on_fatal_signal(int sig)
{
    save_current();
    signal(sig, SIG_DFL);
    raise(sig);
}

/* ---- corpus ------------------------------------------------------------- */

static void corpus_add(corpus_t *c, uint8_t *data, size_t len)
{
    if (c->n == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 64;
        c->items = realloc(c->items, c->cap * sizeof(*c->items));
        if (!c->items) abort();
    }
    c->items[c->n++] = (input_t){data, len};
}

static int read_file(const char *path, corpus_t *c)
{
    FILE *fp = fopen(path, "rb");
    if (!fp) return -1;
    size_t cap = 4096, len = 0;
    uint8_t *buf = malloc(cap);
    size_t got;
    while (buf && (got = fread(buf + len, 1, cap - len, fp)) > 0) {
        len += got;
        if (len == cap) buf = realloc(buf, cap *= 2);
    }
    fclose(fp);
    if (!buf) abort();
    corpus_add(c, buf, len);
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Directory entries in name order, so runs are reproducible. */
static int read_dir(const char *dir, corpus_t *c)
{
    DIR *d = opendir(dir);
    if (!d) return -1;
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.') continue;
        if (n == cap) names = realloc(names, (cap = cap ? cap * 2 : 64) * sizeof(*names));
        names[n++] = strdup(de->d_name);
    }
    closedir(d);
    if (n) qsort(names, n, sizeof(*names), cmp_str);
    for (size_t i = 0; i < n; i++) {
        char path[4096];
        struct stat st;
        snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
        if (stat(path, &st) == 0 && S_ISREG(st.st_mode)) read_file(path, c);
        free(names[i]);
    }
    free(names);
    return 0;
}

/* ---- mutations ---------------------------------------------------------- */

static uint64_t rng_state;

static uint64_t rng(void) /* splitmix64 */
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static size_t below(size_t n) /* uniform enough in [0, n); n > 0 */ { return (size_t)(rng() % n); }

/* Bytes that matter to common parsers: structure, quotes, escapes, limits. */
static const uint8_t interesting[] = {0x00, 0x01, 0x7f, 0x80, 0xff, 0xfe, 0xc0, 0xed, 0xf4,
                                      '"',  '\\', '{',  '}',  '[',  ']',  ',',  ':',  ' ',
                                      '\n', 'u',  '0',  '-',  '.',  'Z',  0x0a, 0x12, 0x7a};

/* One mutation of buf[0..*len) in place; buf has room for max_len bytes. */
static void mutate_once(uint8_t *buf, size_t *len, size_t max_len, const corpus_t *seeds)
{
    size_t n = *len;
    switch (below(9)) {
    case 0: /* flip a bit */
        if (n) buf[below(n)] ^= (uint8_t)(1u << below(8));
        break;
    case 1: /* set a byte to something random or interesting */
        if (n) buf[below(n)] = below(2) ? (uint8_t)rng() : interesting[below(sizeof(interesting))];
        break;
    case 2: { /* insert 1-8 bytes */
        size_t k = 1 + below(8), at = below(n + 1);
        if (n + k > max_len) break;
        memmove(buf + at + k, buf + at, n - at);
        for (size_t i = 0; i < k; i++)
            buf[at + i] = below(2) ? (uint8_t)rng() : interesting[below(sizeof(interesting))];
        *len = n + k;
        break;
    }
    case 3: { /* delete a range */
        if (!n) break;
        size_t at = below(n), k = 1 + below(n - at < 16 ? n - at : 16);
        memmove(buf + at, buf + at + k, n - at - k);
        *len = n - k;
        break;
    }
    case 4: /* truncate */
        if (n) *len = below(n);
        break;
    case 5: { /* splice: our prefix, another seed's suffix */
        const input_t *o = &seeds->items[below(seeds->n)];
        size_t at = below(n + 1), from = below(o->len + 1), k = o->len - from;
        if (at + k > max_len) k = max_len - at;
        memcpy(buf + at, o->data + from, k);
        *len = at + k;
        break;
    }
    case 6: { /* copy a chunk of ourselves elsewhere (repeats structure) */
        if (!n) break;
        size_t from = below(n), k = 1 + below(n - from < 64 ? n - from : 64), at = below(n + 1);
        if (n + k > max_len) break;
        uint8_t tmp[64];
        memcpy(tmp, buf + from, k);
        memmove(buf + at + k, buf + at, n - at);
        memcpy(buf + at, tmp, k);
        *len = n + k;
        break;
    }
    case 7: { /* overwrite with bytes from another seed at the same offset */
        const input_t *o = &seeds->items[below(seeds->n)];
        if (!n || !o->len) break;
        size_t at = below(n), k = 1 + below(32);
        for (size_t i = 0; i < k && at + i < n; i++) buf[at + i] = o->data[(at + i) % o->len];
        break;
    }
    case 8: /* small arithmetic on a byte: lengths and varints off by a few */
        if (n) buf[below(n)] += (uint8_t)(below(2) ? 1 + below(4) : 256 - 1 - below(4));
        break;
    }
}

/* ---- main --------------------------------------------------------------- */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static unsigned long long count;

/* Runs one input from an exact-size heap copy, so a read one byte past the
 * end is a heap overflow ASan reports. */
static void run_input(const uint8_t *data, size_t len)
{
    uint8_t *copy = malloc(len ? len : 1);
    if (!copy) abort();
    if (len) memcpy(copy, data, len);
    cur_data = copy;
    cur_len = len;
    cur_index = count;
    LLVMFuzzerTestOneInput(copy, len);
    cur_data = NULL;
    free(copy);
    count++;
}

int main(int argc, char **argv)
{
    const char *env = getenv("QUELL_FUZZ_ITERATIONS");
    unsigned long long runs = env ? strtoull(env, NULL, 10) : 20000;
    env = getenv("QUELL_FUZZ_SECONDS");
    double max_seconds = env ? strtod(env, NULL) : 10;
    uint64_t seed = 0x7175656c6cull; /* "quell" */
    size_t max_len = 0;
    corpus_t seeds = {0};

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strncmp(a, "-runs=", 6) == 0)
            runs = strtoull(a + 6, NULL, 10);
        else if (strncmp(a, "-max_total_time=", 16) == 0)
            max_seconds = strtod(a + 16, NULL);
        else if (strncmp(a, "-seed=", 6) == 0)
            seed = strtoull(a + 6, NULL, 10);
        else if (strncmp(a, "-max_len=", 9) == 0)
            max_len = strtoull(a + 9, NULL, 10);
        else if (strncmp(a, "-artifact_prefix=", 17) == 0)
            snprintf(artifact_prefix, sizeof(artifact_prefix), "%s", a + 17);
        else if (a[0] == '-')
            fprintf(stderr, "fuzz: ignoring unknown flag %s\n", a);
        else {
            struct stat st;
            int r = stat(a, &st) != 0     ? -1
                    : S_ISDIR(st.st_mode) ? read_dir(a, &seeds)
                                          : read_file(a, &seeds);
            if (r != 0) {
                fprintf(stderr, "fuzz: cannot read seed %s\n", a);
                return 2;
            }
        }
    }
    if (max_seconds <= 0) max_seconds = 1e9;
    rng_state = seed;

    /* Under a sanitizer its own SEGV handler must stay (it prints the
     * report) and its death callback saves the input; abort() (a target's
     * own assertion) is caught either way. */
    signal(SIGABRT, on_fatal_signal);
    if (__sanitizer_set_death_callback) {
        __sanitizer_set_death_callback(save_current);
    } else {
        signal(SIGSEGV, on_fatal_signal);
        signal(SIGBUS, on_fatal_signal);
        signal(SIGFPE, on_fatal_signal);
        signal(SIGILL, on_fatal_signal);
    }

    double start = now_s();
    size_t n_seeds = seeds.n;
    for (size_t i = 0; i < seeds.n; i++) run_input(seeds.items[i].data, seeds.items[i].len);
    if (seeds.n == 0) corpus_add(&seeds, calloc(1, 1), 0); /* mutate from nothing */

    size_t largest = 0;
    for (size_t i = 0; i < seeds.n; i++)
        if (seeds.items[i].len > largest) largest = seeds.items[i].len;
    if (max_len == 0) max_len = largest * 2 > 4096 ? largest * 2 : 4096;

    /* Mutants are built from a seed or, a quarter of the time, from one of
     * the last few mutants, so changes can accumulate past one step. */
    enum { RECENT = 16 };
    uint8_t *recent[RECENT];
    size_t recent_len[RECENT] = {0}, n_recent = 0;
    for (int i = 0; i < RECENT; i++)
        if (!(recent[i] = malloc(max_len))) abort();
    uint8_t *buf = malloc(max_len);
    if (!buf) abort();

    unsigned long long mutations = 0;
    for (; mutations < runs; mutations++) {
        if ((mutations & 63) == 0 && now_s() - start > max_seconds) break;
        size_t len;
        if (n_recent && below(4) == 0) {
            size_t r = below(n_recent < RECENT ? n_recent : RECENT);
            len = recent_len[r];
            memcpy(buf, recent[r], len);
        } else {
            const input_t *s = &seeds.items[below(seeds.n)];
            len = s->len < max_len ? s->len : max_len;
            memcpy(buf, s->data, len);
        }
        for (size_t k = 1 + below(4); k > 0; k--) mutate_once(buf, &len, max_len, &seeds);
        run_input(buf, len);
        size_t slot = n_recent++ % RECENT;
        memcpy(recent[slot], buf, len);
        recent_len[slot] = len;
    }

    printf("fuzz: %llu inputs, 0 crashes\n", count);
    fprintf(stderr, "fuzz: %zu seeds, %llu mutations in %.1f s\n", n_seeds, mutations,
            now_s() - start);
    for (int i = 0; i < RECENT; i++) free(recent[i]);
    free(buf);
    for (size_t i = 0; i < seeds.n; i++) free(seeds.items[i].data);
    free(seeds.items);
    return 0;
}
