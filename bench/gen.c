/*
 * gen: `quell gen`, a deterministic, skewed alert storm.
 *
 * What: N Prometheus alerts over K fingerprints, as JSON lines (the
 * Alertmanager alert object) or length-delimited quell.v1.Alert messages,
 * for the benchmarks and for feeding a local Kafka by hand.
 *
 * Determinism contract: the output is a function of the options alone. The
 * generator uses its own PRNG (splitmix64, seeded with the seed), its
 * own integer and time formatting (no printf of doubles, no locale, no time
 * zone) and, for the popularity table, only IEEE-754 binary64 +, *, / and
 * sqrt, which are correctly rounded everywhere: no pow/exp/log, whose last
 * bit differs between libms, and no multiply feeding an add that a compiler
 * could fuse. Same options, same bytes on any x86-64 or arm64 machine
 * (tests/test_gen.c pins a digest). The labels of fingerprint index i depend
 * on i alone, never on the seed, N or the format; the seed only decides which
 * index occurs when and which occurrences are resolves.
 *
 * Skew model: index r is drawn with probability proportional to
 * (r+1)^-1.125, a Zipf law with exponent 9/8 (1.125 rather than 1.1 because
 * x^(1/8) is three square roots). With K = 1000 the top 1% of indices carry
 * about half the volume; index 0 is the hottest. Sampling is a binary search
 * in a precomputed CDF: 8 bytes per fingerprint, O(log K) per alert.
 *
 * Occurrences: the n-th alert's event time is start + n * spacing. A
 * fingerprint's run opens (startsAt = event time) at its first occurrence
 * and stays open until a resolve closes it. Firing alerts carry endsAt =
 * event time + 4m, as Prometheus sends them; resolves carry endsAt = event
 * time. A resolve with no open run starts and ends at its event time (what
 * Alertmanager sees after a restart).
 *
 * Threads: a gen_t belongs to one thread. Nothing is allocated per alert:
 * values are built in a scratch buffer and rendered into one output buffer.
 */
#include "bench.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "quell/v1/alert.pb-c.h"

#define DEFAULT_START_MS     1767225600000LL /* 2026-01-01T00:00:00Z */
#define FIRING_ENDS_AFTER_MS (4 * 60 * 1000LL)
#define MAX_TIME_MS          253402300799999LL /* 9999-12-31T23:59:59.999Z */
#define HEADROOM             10                /* room for a varint length prefix */
#define SCRATCH_BYTES        4096
#define SUMMARY_MAX          512
#define DESCRIPTION_MAX      1536
/* Bound on a rendered message: every value comes from the scratch buffer
 * (< SCRATCH_BYTES) or the tables (< 1 KiB together per alert); escaping
 * turns a byte into at most 6; keys and timestamps add < 1 KiB. */
#define OUT_BYTES     (6 * (SCRATCH_BYTES + 1024) + 1024 + HEADROOM + 1)
#define WRITE_BYTES   (256 * 1024)
#define MAX_LABELS    9
#define N_ANNOTATIONS 3

#define PUT_LIT(p, s) (memcpy((p), (s), sizeof(s) - 1), (p) + sizeof(s) - 1)

/* ---- tables ------------------------------------------------------------ */

/* Where a rule's series come from. NULL job/service/namespace: the
 * workload's (job = its service). `group` is the runbook folder. */
typedef struct {
    const char *group, *job, *service, *namespace;
    uint16_t port;
    bool has_pod;
} source_t;

enum {
    SRC_NODE,
    SRC_HOST,
    SRC_KSM,
    SRC_KUBELET,
    SRC_KSM_NODE,
    SRC_APP,
    SRC_NGINX,
    SRC_BLACKBOX,
    SRC_PG,
    SRC_MYSQL,
    SRC_REDIS,
    SRC_KAFKA,
    SRC_ES,
    SRC_PROM,
    SRC_AM,
    SRC_GENERAL
};

static const source_t sources[] = {
    [SRC_NODE] = {"node", "node-exporter", "node-exporter", "monitoring", 9100, false},
    [SRC_HOST] = {"host", "node-exporter", "node-exporter", "monitoring", 9100, false},
    [SRC_KSM] = {"kubernetes", "kube-state-metrics", NULL, NULL, 8080, true},
    [SRC_KUBELET] = {"kubernetes", "kubelet", "kubelet", "kube-system", 10250, false},
    [SRC_KSM_NODE] = {"kubernetes", "kube-state-metrics", "kube-state-metrics", "monitoring", 8080,
                      false},
    [SRC_APP] = {"general", NULL, NULL, NULL, 8080, true},
    [SRC_NGINX] = {"nginx", "ingress-nginx", "ingress-nginx-controller", "ingress-nginx", 10254,
                   true},
    [SRC_BLACKBOX] = {"blackbox", "blackbox", "blackbox-exporter", "monitoring", 443, false},
    [SRC_PG] = {"postgresql", "postgres-exporter", "postgresql", "databases", 9187, false},
    [SRC_MYSQL] = {"mysql", "mysqld-exporter", "mysql", "databases", 9104, false},
    [SRC_REDIS] = {"redis", "redis-exporter", "redis", "cache", 9121, false},
    [SRC_KAFKA] = {"kafka", "kafka-exporter", "kafka-exporter", "kafka", 9308, false},
    [SRC_ES] = {"elasticsearch", "elasticsearch-exporter", "elasticsearch", "logging", 9114, false},
    [SRC_PROM] = {"prometheus", "prometheus-k8s", "prometheus-k8s", "monitoring", 9090, false},
    [SRC_AM] = {"alertmanager", "alertmanager-main", "alertmanager-main", "monitoring", 9093,
                false},
    [SRC_GENERAL] = {"general", "prometheus-k8s", "prometheus-k8s", "monitoring", 9090, false},
};

/* Common Prometheus alerts, after kube-prometheus and awesome-prometheus-
 * alerts. The summary gets " (instance <instance>)" appended. Description
 * templates: %i instance, %n namespace, %p pod, %c container, %j job,
 * %s service, %C cluster; any other '%' is literal. */
typedef struct {
    const char *alertname;
    int source;
    const char *summary, *description;
} rule_t;

static const rule_t rules[] = {
    {"NodeFilesystemSpaceFillingUp", SRC_NODE,
     "Filesystem is predicted to run out of space within the next 24 hours",
     "Filesystem on /dev/nvme0n1p1 at %i has only 14.2% available space left and is filling up "
     "fast."},
    {"NodeFilesystemAlmostOutOfSpace", SRC_NODE, "Filesystem has less than 5% space left",
     "Filesystem on /dev/sda1, mounted on /, at %i has only 3.9% available space left."},
    {"NodeFilesystemFilesFillingUp", SRC_NODE,
     "Filesystem is predicted to run out of inodes within the next 24 hours",
     "Filesystem on /dev/sdb1 at %i has only 9.7% available inodes left and is filling up."},
    {"NodeMemoryHighUtilization", SRC_NODE, "Host is running out of memory",
     "Memory is filling up at %i, has been above 90% for the last 15 minutes, is currently at "
     "93.4%."},
    {"NodeHighNumberConntrackEntriesUsed", SRC_NODE,
     "Number of conntrack are getting close to the limit",
     "%i has 83.1% of conntrack entries used on cluster %C."},
    {"NodeClockNotSynchronising", SRC_NODE, "Clock not synchronising",
     "Clock at %i is not synchronising. Ensure NTP is configured on this host."},
    {"NodeNetworkReceiveErrs", SRC_NODE, "Network interface is reporting many receive errors",
     "%i interface eth0 has encountered 412 receive errors in the last two minutes."},
    {"HostHighCpuLoad", SRC_HOST, "Host high CPU load",
     "CPU load is > 80%\n  VALUE = 0.93\n  LABELS = map[instance:%i job:%j]"},
    {"HostOutOfMemory", SRC_HOST, "Host out of memory",
     "Node memory is filling up (< 10% left)\n  VALUE = 7.81\n  LABELS = map[instance:%i job:%j]"},
    {"HostOutOfDiskSpace", SRC_HOST, "Host out of disk space",
     "Disk is almost full (< 10% left)\n  VALUE = 6.2\n  LABELS = map[device:/dev/sda1 "
     "instance:%i]"},
    {"HostUnusualDiskReadLatency", SRC_HOST, "Host unusual disk read latency",
     "Disk latency is growing (read operations > 100ms)\n  VALUE = 0.142\n  LABELS = "
     "map[instance:%i]"},
    {"HostSystemdServiceCrashed", SRC_HOST, "Host systemd service crashed",
     "systemd service crashed\n  VALUE = 1\n  LABELS = map[instance:%i "
     "name:\"containerd.service\"]"},
    {"HostOomKillDetected", SRC_HOST, "Host OOM kill detected",
     "OOM kill detected\n  VALUE = 1\n  LABELS = map[instance:%i job:%j]"},
    {"KubePodCrashLooping", SRC_KSM, "Pod is crash looping",
     "Pod %n/%p (%c) is in waiting state (reason: \"CrashLoopBackOff\") on cluster %C."},
    {"KubePodNotReady", SRC_KSM, "Pod has been in a non-ready state for more than 15 minutes",
     "Pod %n/%p has been in a non-ready state for longer than 15 minutes on cluster %C."},
    {"KubeDeploymentReplicasMismatch", SRC_KSM,
     "Deployment has not matched the expected number of replicas",
     "Deployment %n/%s has not matched the expected number of replicas for 15 minutes."},
    {"KubeDeploymentRolloutStuck", SRC_KSM, "Deployment rollout is not progressing",
     "Rollout of deployment %n/%s is not progressing for longer than 15 minutes on cluster %C."},
    {"KubeContainerWaiting", SRC_KSM, "Pod container waiting longer than 1 hour",
     "pod/%p in namespace %n on container %c has been in waiting state for longer than 1 hour."},
    {"KubeHpaMaxedOut", SRC_KSM, "HPA is running at max replicas",
     "HPA %n/%s has been running at max replicas for longer than 15 minutes on cluster %C."},
    {"KubeJobFailed", SRC_KSM, "Job failed to complete",
     "Job %n/%s-migrate-29450160 failed to complete on cluster %C."},
    {"KubePersistentVolumeFillingUp", SRC_KSM, "PersistentVolume is filling up",
     "The PersistentVolume claimed by data-%p in Namespace %n is only 2.7% free."},
    {"CPUThrottlingHigh", SRC_KSM, "Processes experience elevated CPU throttling",
     "41% throttling of CPU in namespace %n for container %c in pod %p on cluster %C."},
    {"KubernetesContainerOomKiller", SRC_KSM, "Kubernetes container oom killer",
     "Container %c in pod %n/%p has been OOMKilled 3 times in the last 10 minutes.\n  VALUE = 3"},
    {"KubeletDown", SRC_KUBELET, "Target disappeared from Prometheus target discovery",
     "Kubelet %i has disappeared from Prometheus target discovery on cluster %C."},
    {"KubeNodeNotReady", SRC_KSM_NODE, "Node is not ready",
     "Node %i has been unready for more than 15 minutes on cluster %C."},
    {"HTTPHighErrorRate", SRC_APP, "High HTTP 5xx error rate",
     "Service %n/%s returns HTTP 5xx for 7.3% of requests on %i (threshold 5%)."},
    {"HTTPHighLatency", SRC_APP, "High HTTP p99 latency",
     "p99 latency of %n/%s on %i is 2.41s (threshold 1s)."},
    {"TargetDown", SRC_APP, "One or more targets are unreachable",
     "100% of the %j/%s targets in %n namespace are down."},
    {"JvmMemoryFillingUp", SRC_APP, "JVM memory filling up",
     "JVM memory is filling up (> 80%)\n  VALUE = 0.87\n  LABELS = map[area:heap instance:%i "
     "job:%j]"},
    {"NginxHighHttp4xxErrorRate", SRC_NGINX, "Nginx high HTTP 4xx error rate",
     "Too many HTTP requests with status 4xx (> 5%)\n  VALUE = 6.4\n  LABELS = map[pod:%p]"},
    {"BlackboxProbeFailed", SRC_BLACKBOX, "Blackbox probe failed",
     "Probe failed\n  VALUE = 0\n  LABELS = map[instance:%i job:%j]"},
    {"PostgresqlDown", SRC_PG, "Postgresql down",
     "Postgresql instance is down\n  VALUE = 0\n  LABELS = map[instance:%i job:%j]"},
    {"PostgresqlTooManyConnections", SRC_PG, "Postgresql too many connections",
     "PostgreSQL instance has too many connections (> 80%).\n  VALUE = 91\n  LABELS = "
     "map[datname:\"orders\"]"},
    {"MysqlDown", SRC_MYSQL, "MySQL down",
     "MySQL instance is down on %i\n  VALUE = 0\n  LABELS = map[instance:%i job:%j]"},
    {"RedisDown", SRC_REDIS, "Redis down",
     "Redis instance is down\n  VALUE = 0\n  LABELS = map[instance:%i job:%j]"},
    {"RedisOutOfConfiguredMaxmemory", SRC_REDIS, "Redis out of configured maxmemory",
     "Redis is running out of configured maxmemory (> 90%)\n  VALUE = 0.94"},
    {"KafkaConsumerGroupLag", SRC_KAFKA, "Kafka consumer group lag",
     "Kafka consumer group \"quell\" has a lag of 182340 messages\n  VALUE = 182340"},
    {"ElasticsearchClusterRed", SRC_ES, "Elasticsearch cluster red",
     "Elastic Cluster Red status\n  VALUE = 1\n  LABELS = map[cluster:\"logs-%C\" instance:%i]"},
    {"PrometheusRuleFailures", SRC_PROM, "Prometheus is failing rule evaluations",
     "Prometheus %n/prometheus-k8s-0 at %i has failed to evaluate 12 rules in the last 5m."},
    {"AlertmanagerFailedToSendAlerts", SRC_AM,
     "An Alertmanager instance failed to send notifications",
     "Alertmanager %n/alertmanager-main-1 failed to send 4.2% of notifications to slack."},
    /* Not drawn for the steady traffic (N_STEADY_RULES stops before them):
     * kube-prometheus's always-firing severity=none alerts, which every
     * installation routes to a null receiver, i.e. what exclusion rules
     * drop. */
    {"Watchdog", SRC_GENERAL,
     "An alert that should always be firing to certify that Alertmanager is working properly.",
     "This is an alert meant to ensure that the entire alerting pipeline is functional.\nThis "
     "alert is always firing, therefore it should always be firing in Alertmanager\nand always "
     "fire against a receiver."},
    {"InfoInhibitor", SRC_GENERAL, "Info-level alert inhibition.",
     "This is an alert that is used to inhibit info alerts.\nBy themselves, the info-level alerts "
     "are sometimes very noisy, but they are relevant when combined with\nother alerts."},
};
#define N_STEADY_RULES (COUNT(rules) - 2)
#define RULE_WATCHDOG  N_STEADY_RULES

/* What a launch-day flood is made of: a new service's errors, crash loops
 * and saturation, none of them critical (see fill_alert). */
static const char *const flood_rule_names[] = {
    "HTTPHighErrorRate",  "HTTPHighLatency",     "KubePodCrashLooping",
    "KubePodNotReady",    "CPUThrottlingHigh",   "KubernetesContainerOomKiller",
    "JvmMemoryFillingUp", "KubeContainerWaiting"};
#define N_FLOOD_RULES         (sizeof(flood_rule_names) / sizeof(flood_rule_names[0]))
#define FLOOD_NAMESPACE       "recommendations"
#define FLOOD_SERVICE         "recommendations-v2"
#define EXCLUDED_FINGERPRINTS 64 /* Watchdog/InfoInhibitor x clusters x replicas */

typedef struct {
    const char *namespace, *service;
} workload_t;

static const workload_t workloads[] = {
    {"payments", "payments-api"}, {"payments", "ledger"},       {"checkout", "checkout"},
    {"checkout", "cart"},         {"catalog", "search"},        {"catalog", "catalog-api"},
    {"identity", "auth"},         {"identity", "user-profile"}, {"web", "frontend"},
    {"web", "api-gateway"},       {"messaging", "notifier"},    {"messaging", "email-worker"},
    {"data", "etl-runner"},       {"data", "feature-store"},    {"shipping", "shipping-api"},
    {"orders", "orders"},
};

static const char *const clusters[] = {"prod-eu-west-1", "prod-us-east-1", "staging-eu-west-1"};
static const char *const annotation_names[N_ANNOTATIONS] = {"description", "runbook_url",
                                                            "summary"};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))
#define N_RULES  COUNT(rules)

/* ---- the generator ---------------------------------------------------- */

struct gen {
    gen_opts_t opts;
    uint64_t emitted;
    uint64_t rng;          /* splitmix64 state */
    double *cdf;           /* cdf[r]: total weight of indices 0..r */
    double draw_scale;     /* total weight / 2^53 */
    double resolve_below;  /* a 53-bit draw below this makes a resolve */
    int64_t *run_start_ms; /* per index: startsAt of its open run, 0 = none */
    /* families beyond the steady traffic (all zero by default, and then
     * not one extra draw is made: the default output stays as it was) */
    bool families;          /* any of the shares below is set */
    double excluded_below;  /* family draw below this: an excluded alert */
    double transient_below; /* ... below this (and not excluded): transient */
    double flood_below;     /* ... below this, once the flood runs: flood */
    double flood_rescale;   /* 1 / (1 - flood share): the other families' draw */
    double flap_below;      /* a steady index whose hash is below this flaps */
    uint64_t flood_from;    /* first occurrence of the flood */
    int64_t flood_at_ms;    /* its offset in event time (--duration only; 0 = even) */
    uint64_t flood_base, excluded_base, transient_base, transient_span;
    uint64_t transient_seq;  /* transient fingerprints started so far */
    uint64_t transient_open; /* index of the transient waiting for its resolve */
    int64_t transient_start; /* its startsAt; 0 = none open */
    size_t flood_rules[N_FLOOD_RULES];
    /* the alert being built; labels sorted by name */
    const char *label_name[MAX_LABELS], *label_value[MAX_LABELS];
    unsigned n_labels;
    const char *annotation_value[N_ANNOTATIONS], *generator_url;
    bool resolved;
    int64_t starts_at_ms, ends_at_ms;
    Quell__V1__Label pb_labels[MAX_LABELS + N_ANNOTATIONS];
    Quell__V1__Label *pb_label_ptrs[MAX_LABELS + N_ANNOTATIONS];
    char runbook_url[N_RULES][128], rule_url[N_RULES][192];
    char scratch[SCRATCH_BYTES];
    unsigned char out[OUT_BYTES];    /* the message starts at out + HEADROOM */
    unsigned char wbuf[WRITE_BYTES]; /* gen_write's batch */
};

/* Writes the error sentence; returns false, for `return fail(...)`. */
__attribute__((format(printf, 3, 4))) static bool fail(char *errbuf, size_t errlen, const char *fmt,
                                                       ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (errbuf && errlen) vsnprintf(errbuf, errlen, fmt, ap);
    va_end(ap);
    return false;
}

static uint64_t mix64(uint64_t z) /* splitmix64's finalizer */
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* splitmix64 (Steele, Lea, Flood 2014): 64 bits of state, passes BigCrush. */
static uint64_t rng_next(uint64_t *state) { return mix64(*state += 0x9e3779b97f4a7c15ULL); }

/* A bijection on 24 bits (odd multipliers, xor-shifts): spreads consecutive
 * indices over the address space and keeps them distinct. */
static uint32_t perm24(uint32_t x)
{
    x = (x * 0x9e3779u + 0x5bd1e9u) & 0xffffff;
    x ^= x >> 13;
    x = (x * 0x2c1b3du) & 0xffffff;
    return x ^ (x >> 11);
}

/* ---- formatting (no printf, no locale) --------------------------------- */

static char *put_uint(char *p, uint64_t v)
{
    char tmp[20];
    int n = 0;
    do tmp[n++] = (char)('0' + v % 10);
    while (v /= 10);
    while (n) *p++ = tmp[--n];
    return p;
}

static char *put_digits(char *p, unsigned v, int width)
{
    for (int i = width - 1; i >= 0; i--, v /= 10) p[i] = (char)('0' + v % 10);
    return p + width;
}

/* Howard Hinnant's days_from_civil (proleptic Gregorian). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    return era * 146097 + (int64_t)(yoe * 365 + yoe / 4 - yoe / 100 + doy) - 719468;
}

/* "YYYY-MM-DDTHH:MM:SS.mmmZ" for 0 <= ms <= MAX_TIME_MS (Hinnant's
 * civil_from_days). */
static char *put_time(char *p, int64_t ms)
{
    int64_t z = ms / 86400000 + 719468, era = z / 146097;
    unsigned msec = (unsigned)(ms % 86400000), doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100), mp = (5 * doy + 2) / 153;
    unsigned month = mp < 10 ? mp + 3 : mp - 9;
    const unsigned field[7] = {(unsigned)(yoe + era * 400) + (month <= 2),
                               month,
                               doy - (153 * mp + 2) / 5 + 1,
                               msec / 3600000,
                               msec / 60000 % 60,
                               msec / 1000 % 60,
                               msec % 1000};
    static const int width[7] = {4, 2, 2, 2, 2, 2, 3};
    for (int i = 0; i < 7; i++) {
        p = put_digits(p, field[i], width[i]);
        *p++ = "--T::.Z"[i];
    }
    return p;
}

/* Offset of the first byte of s[0..n) that JSON must escape ('"', '\\',
 * below 0x20), or n. Eight bytes at a time: the has-less-than trick says
 * exactly whether a word holds one; which one is found bytewise, so the
 * answer does not depend on byte order. */
static size_t json_special(const char *s, size_t n)
{
    const uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w, q, b;
        memcpy(&w, s + i, 8);
        q = w ^ (ones * '"');
        b = w ^ (ones * '\\');
        if ((((w - ones * 0x20) & ~w) | ((q - ones) & ~q) | ((b - ones) & ~b)) & highs) break;
    }
    for (; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == '"' || s[i] == '\\') break;
    return i;
}

/* A JSON string with its quotes; other bytes (UTF-8) pass through. */
static char *put_json_str(char *p, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    size_t n = strlen(s);
    *p++ = '"';
    for (;;) {
        size_t run = json_special(s, n);
        memcpy(p, s, run);
        p += run;
        if (run == n) break;
        unsigned char c = (unsigned char)s[run];
        *p++ = '\\';
        switch (c) {
        case '"':
        case '\\': *p++ = (char)c; break;
        case '\n': *p++ = 'n'; break;
        case '\t': *p++ = 't'; break;
        case '\r': *p++ = 'r'; break;
        default: p = PUT_LIT(p, "u00"), *p++ = hex[c >> 4], *p++ = hex[c & 15];
        }
        s += run + 1;
        n -= run + 1;
    }
    *p++ = '"';
    return p;
}

static char *put_json_object(char *p, const char *const *names, const char *const *values,
                             unsigned n)
{
    *p++ = '{';
    for (unsigned i = 0; i < n; i++) {
        if (i) *p++ = ',';
        p = put_json_str(p, names[i]);
        *p++ = ':';
        p = put_json_str(p, values[i]);
    }
    *p++ = '}';
    return p;
}

/* Copies `s` into p, stopping at `end`. */
static char *put_capped(char *p, const char *end, const char *s)
{
    size_t n = strnlen(s, (size_t)(end - p));
    memcpy(p, s, n);
    return p + n;
}

typedef struct {
    const char *instance, *namespace, *pod, *container, *job, *service, *cluster;
} vars_t;

/* Expands a rule template into p (at most max bytes with the NUL); returns
 * the byte after the NUL. */
static char *expand(char *p, size_t max, const char *tmpl, const vars_t *v)
{
    const char *end = p + max - 1;
    for (;;) {
        const char *pct = strchrnul(tmpl, '%'), *s = NULL;
        size_t run = (size_t)(pct - tmpl);
        if (run > (size_t)(end - p)) run = (size_t)(end - p);
        memcpy(p, tmpl, run);
        p += run;
        if (!*pct || p == end) break;
        switch (pct[1]) {
        case 'i': s = v->instance; break;
        case 'n': s = v->namespace; break;
        case 'p': s = v->pod; break;
        case 'c': s = v->container; break;
        case 'j': s = v->job; break;
        case 's': s = v->service; break;
        case 'C': s = v->cluster; break;
        }
        p = s ? put_capped(p, end, s) : (*p = '%', p + 1);
        tmpl = pct + (s ? 2 : 1);
    }
    *p = '\0';
    return p + 1;
}

/* ---- one alert ------------------------------------------------------- */

/* The labels and annotations of index `idx`: a function of idx alone. The
 * instance "10.a.b.c:port" is a bijection of idx < 2^24, so it alone makes
 * the label sets of distinct indices distinct. */
typedef enum { FAM_STEADY, FAM_FLOOD, FAM_EXCLUDED, FAM_TRANSIENT } family_t;

static const workload_t flood_workload = {FLOOD_NAMESPACE, FLOOD_SERVICE};

/* Steady and transient indices draw any rule and workload; the flood is
 * the new service's non-critical errors; excluded ones are Watchdog and
 * InfoInhibitor with severity "none". The hashes come from the index
 * within the family, so a family's label sets do not move with K. */
static void fill_alert(gen_t *g, uint64_t idx, family_t fam, uint64_t fam_idx)
{
    static const char pod_chars[] = "bcdfghjklmnpqrstvwxz2456789"; /* Kubernetes' */
    uint64_t salt = fam == FAM_STEADY || fam == FAM_TRANSIENT ? 0 : (uint64_t)fam << 56;
    uint64_t h1 = mix64((fam == FAM_TRANSIENT ? idx : fam_idx) + 0x9e3779b97f4a7c15ULL + salt),
             h2 = mix64(h1), h3 = mix64(h2);
    size_t rule_index = fam == FAM_FLOOD      ? g->flood_rules[h1 % N_FLOOD_RULES]
                        : fam == FAM_EXCLUDED ? RULE_WATCHDOG + (h1 & 1)
                                              : h1 % N_STEADY_RULES;
    const rule_t *rule = &rules[rule_index];
    const source_t *src = &sources[rule->source];
    const workload_t *wl =
        fam == FAM_FLOOD ? &flood_workload : &workloads[(h1 >> 32) % COUNT(workloads)];
    unsigned sev = (unsigned)(h2 & 0xff);
    const char *severity = sev < 51 ? "critical" : sev < 217 ? "warning" : "info"; /* 20/65/15% */
    if (fam == FAM_FLOOD) severity = sev < 179 ? "warning" : "info";               /* 70/30% */
    if (fam == FAM_EXCLUDED) severity = "none";
    vars_t v = {.service = src->service ? src->service : wl->service,
                .namespace = src->namespace ? src->namespace : wl->namespace,
                .cluster = clusters[(h2 >> 8) % COUNT(clusters)]};
    v.job = src->job ? src->job : v.service;
    v.container = v.service;

    char *p = g->scratch;
    uint32_t ip = perm24((uint32_t)idx);
    const unsigned part[4] = {ip >> 16, (ip >> 8) & 0xff, ip & 0xff, src->port};
    v.instance = v.pod = p;
    p = PUT_LIT(p, "10.");
    for (int i = 0; i < 4; i++) {
        p = put_uint(p, part[i]);
        *p++ = "..:"[i]; /* the NUL after the port */
    }
    if (src->has_pod) { /* "<deployment>-<replicaset hash>-<pod suffix>" */
        v.pod = p;
        p = put_capped(p, p + 64, v.service);
        *p++ = '-';
        for (int i = 0; i < 10; i++, h3 /= 27) *p++ = pod_chars[h3 % 27];
        *p++ = '-';
        for (uint64_t h = h2 >> 16, i = 0; i < 5; i++, h /= 27) *p++ = pod_chars[h % 27];
        *p++ = '\0';
    }

    unsigned n = 0;
#define LABEL(name, value) (g->label_name[n] = (name), g->label_value[n++] = (value))
    LABEL("alertname", rule->alertname);
    LABEL("cluster", v.cluster);
    if (src->has_pod) LABEL("container", v.container);
    LABEL("instance", v.instance);
    LABEL("job", v.job);
    LABEL("namespace", v.namespace);
    if (src->has_pod) LABEL("pod", v.pod);
    LABEL("service", v.service);
    LABEL("severity", severity);
#undef LABEL
    g->n_labels = n;
    g->annotation_value[0] = p;
    p = expand(p, DESCRIPTION_MAX, rule->description, &v);
    g->annotation_value[1] = g->runbook_url[rule_index];
    g->annotation_value[2] = p;
    p = put_capped(p, p + SUMMARY_MAX, rule->summary);
    p = PUT_LIT(p, " (instance ");
    p = put_capped(p, p + 64, v.instance);
    p = PUT_LIT(p, ")");
    *p = '\0';
    g->generator_url = g->rule_url[rule_index];
}

static size_t render_json(gen_t *g)
{
    char *start = (char *)g->out + HEADROOM, *p = start;
    p = put_json_object(PUT_LIT(p, "{\"labels\":"), g->label_name, g->label_value, g->n_labels);
    p = put_json_object(PUT_LIT(p, ",\"annotations\":"), annotation_names, g->annotation_value,
                        N_ANNOTATIONS);
    p = put_time(PUT_LIT(p, ",\"startsAt\":\""), g->starts_at_ms);
    p = put_time(PUT_LIT(p, "\",\"endsAt\":\""), g->ends_at_ms);
    p = put_json_str(PUT_LIT(p, "\",\"generatorURL\":"), g->generator_url);
    if (g->resolved)
        p = PUT_LIT(p, ",\"status\":\"resolved\"}");
    else
        p = PUT_LIT(p, ",\"status\":\"firing\"}");
    *p = '\n'; /* gen_write's framing, outside the message */
    return (size_t)(p - start);
}

static size_t render_proto(gen_t *g)
{
    Quell__V1__Alert msg = QUELL__V1__ALERT__INIT;
    /* protobuf-c's fields are char *; packing only reads them. */
    for (unsigned i = 0; i < g->n_labels; i++) {
        g->pb_labels[i].name = (char *)g->label_name[i];
        g->pb_labels[i].value = (char *)g->label_value[i];
    }
    for (unsigned i = 0; i < N_ANNOTATIONS; i++) {
        g->pb_labels[MAX_LABELS + i].name = (char *)annotation_names[i];
        g->pb_labels[MAX_LABELS + i].value = (char *)g->annotation_value[i];
    }
    msg.n_labels = g->n_labels;
    msg.labels = g->pb_label_ptrs;
    msg.n_annotations = N_ANNOTATIONS;
    msg.annotations = g->pb_label_ptrs + MAX_LABELS;
    msg.status =
        g->resolved ? QUELL__V1__STATUS__STATUS_RESOLVED : QUELL__V1__STATUS__STATUS_FIRING;
    msg.starts_at_ms = g->starts_at_ms;
    msg.ends_at_ms = g->ends_at_ms;
    msg.generator_url = (char *)g->generator_url;
    return quell__v1__alert__pack(&msg, g->out + HEADROOM); /* < the JSON bound */
}

/* The index whose CDF interval holds a uniform draw in [0, total). */
static uint64_t draw_index(gen_t *g)
{
    double u = (double)(rng_next(&g->rng) >> 11) * g->draw_scale;
    uint64_t lo = 0, hi = g->opts.fingerprints - 1;
    while (lo < hi) {
        uint64_t mid = lo + (hi - lo) / 2;
        if (g->cdf[mid] > u)
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

/* Which family the next occurrence belongs to: one extra draw, made only
 * when some family share is set. */
static family_t draw_family(gen_t *g)
{
    if (!g->families) return FAM_STEADY;
    double u = (double)(rng_next(&g->rng) >> 11);
    if (g->emitted >= g->flood_from && g->flood_below > 0) {
        if (u < g->flood_below) return FAM_FLOOD;
        u = (u - g->flood_below) * g->flood_rescale; /* the rest is the usual traffic */
    }
    if (u < g->excluded_below) return FAM_EXCLUDED;
    if (u < g->transient_below) return FAM_TRANSIENT;
    return FAM_STEADY;
}

/* A transient fingerprint fires once and is resolved at the next transient
 * draw: seen once, gone before anyone could act on it. */
static uint64_t next_transient(gen_t *g, int64_t event_ms)
{
    uint64_t idx;
    if (g->transient_start) {
        idx = g->transient_open;
        g->resolved = true;
        g->starts_at_ms = g->transient_start;
        g->transient_start = 0;
    } else {
        idx = g->transient_base + g->transient_seq++ % g->transient_span;
        g->resolved = false;
        g->starts_at_ms = g->transient_start = event_ms;
        g->transient_open = idx;
    }
    g->ends_at_ms = g->resolved ? event_ms : event_ms + FIRING_ENDS_AFTER_MS;
    return idx;
}

/* With --duration, occurrences are spread evenly over it; with a flood
 * too, the flood comes on top of the steady traffic: the steady part keeps
 * its rate, so occurrences come 1/(1 - flood share) times as fast once the
 * flood runs (g->flood_at_ms is where it starts in event time). */
static int64_t event_time(const gen_t *g, uint64_t n)
{
    uint64_t total = g->opts.alerts, d = (uint64_t)g->opts.duration_ms;
    if (!d) return g->opts.start_ms + (int64_t)n * g->opts.spacing_ms;
    if (!g->flood_at_ms || g->flood_from == 0 || g->flood_from >= total)
        return g->opts.start_ms + (int64_t)(n * d / total); /* opts_check bounds n * d */
    uint64_t t0 = (uint64_t)g->flood_at_ms, n0 = g->flood_from;
    if (n < n0) return g->opts.start_ms + (int64_t)(n * t0 / n0);
    return g->opts.start_ms + (int64_t)(t0 + (n - n0) * (d - t0) / (total - n0));
}

bool gen_next(gen_t *g, const void **buf, size_t *len, int64_t *event_time_ms, uint64_t *fp_index)
{
    if (g->emitted >= g->opts.alerts) return false;
    family_t fam = draw_family(g);
    int64_t event_ms = event_time(g, g->emitted++);
    uint64_t idx, fam_idx;
    if (fam == FAM_TRANSIENT) {
        fam_idx = idx = next_transient(g, event_ms);
    } else {
        if (fam == FAM_STEADY)
            fam_idx = idx = draw_index(g);
        else if (fam == FAM_FLOOD)
            fam_idx = (rng_next(&g->rng) >> 11) % g->opts.flood_fingerprints,
            idx = g->flood_base + fam_idx;
        else
            fam_idx = (rng_next(&g->rng) >> 11) % EXCLUDED_FINGERPRINTS,
            idx = g->excluded_base + fam_idx;
        int64_t *run = &g->run_start_ms[idx];
        uint64_t r = rng_next(&g->rng) >> 11;
        if (fam == FAM_STEADY && (double)(mix64(idx ^ 0x5bd1e995f1a9b3c7ULL) >> 11) < g->flap_below)
            g->resolved = *run != 0; /* a flapper flips on every occurrence */
        else
            g->resolved =
                fam == FAM_STEADY && (double)r < g->resolve_below; /* floods keep firing */
        g->starts_at_ms = *run ? *run : event_ms;
        g->ends_at_ms = g->resolved ? event_ms : event_ms + FIRING_ENDS_AFTER_MS;
        *run = g->resolved ? 0 : g->starts_at_ms;
    }
    fill_alert(g, idx, fam, fam_idx);
    size_t n = g->opts.format == GEN_JSON ? render_json(g) : render_proto(g);
    if (buf) *buf = g->out + HEADROOM;
    if (len) *len = n;
    if (event_time_ms) *event_time_ms = event_ms;
    if (fp_index) *fp_index = idx;
    return true;
}

/* ---- options ---------------------------------------------------------- */

enum {
    OPT_ALERTS,
    OPT_FINGERPRINTS,
    OPT_SEED,
    OPT_FORMAT,
    OPT_START,
    OPT_SPACING,
    OPT_RESOLVE,
    OPT_DURATION,
    OPT_FLAP,
    OPT_TRANSIENT,
    OPT_EXCLUDED,
    OPT_FLOOD,
    OPT_FLOOD_START,
    OPT_FLOOD_FPS,
    OPT_SCENARIO
};

/* One table: the parser reads it and --help prints it. */
static const struct {
    const char *name, *arg, *help;
} options[] = {
    [OPT_ALERTS] = {"--alerts", "N", "messages to write (default 100000)"},
    [OPT_FINGERPRINTS] = {"--fingerprints", "K", "distinct label sets, 1..16777216 (default 1000)"},
    [OPT_SEED] = {"--seed", "S", "PRNG seed, 0..2^64-1 (default 1)"},
    [OPT_FORMAT] = {"--format", "json|proto",
                    "JSON lines or varint-delimited quell.v1.Alert (default json)"},
    [OPT_START] = {"--start", "TIME",
                   "first event time, RFC 3339 or Unix ms (default 2026-01-01T00:00:00Z)"},
    [OPT_SPACING] = {"--spacing-ms", "MS", "event-time step between alerts (default 10)"},
    [OPT_RESOLVE] = {"--resolve-share", "F",
                     "fraction of occurrences that are resolves, 0..1 (default 0.02)"},
    [OPT_DURATION] = {"--duration", "D",
                      "spread event times evenly over D (e.g. 1h; replaces --spacing-ms)"},
    [OPT_FLAP] = {"--flap-share", "F",
                  "fraction of fingerprints that flip firing/resolved every time (default 0)"},
    [OPT_TRANSIENT] = {"--transient-share", "F",
                       "fraction of the non-flood occurrences from one-off fingerprints that "
                       "fire once and resolve (default 0)"},
    [OPT_EXCLUDED] = {"--excluded-share", "F",
                      "fraction of the non-flood occurrences of Watchdog/InfoInhibitor, "
                      "severity none (default 0)"},
    [OPT_FLOOD] = {"--flood-share", "F",
                   "once the flood starts, fraction of occurrences from a new service's "
                   "non-critical errors (default 0)"},
    [OPT_FLOOD_START] = {"--flood-start", "F",
                         "when the flood starts, as a fraction of the run (default 0.5)"},
    [OPT_FLOOD_FPS] = {"--flood-fingerprints", "K",
                       "distinct label sets of the new service (default 500)"},
    [OPT_SCENARIO] = {"--scenario", "FILE",
                      "read options from a scenario file's gen: section (bench/scenarios/)"},
};

void gen_opts_defaults(gen_opts_t *o)
{
    *o = (gen_opts_t){.alerts = 100000,
                      .fingerprints = 1000,
                      .seed = 1,
                      .format = GEN_JSON,
                      .start_ms = DEFAULT_START_MS,
                      .spacing_ms = 10,
                      .resolve_share = 0.02,
                      .flood_start = 0.5,
                      .flood_fingerprints = 500};
}

void gen_usage(FILE *out)
{
    fputs("usage: quell gen [options] > alerts\n"
          "Writes a deterministic, Zipf-skewed storm of Prometheus alerts to stdout;\n"
          "the same options give the same bytes on any machine.\n\noptions:\n",
          out);
    char left[64];
    for (size_t i = 0; i <= COUNT(options); i++) {
        bool help = i == COUNT(options);
        snprintf(left, sizeof left, "%s %s", help ? "--help" : options[i].name,
                 help ? "" : options[i].arg);
        fprintf(out, "  %-22s %s\n", left, help ? "this text" : options[i].help);
    }
}

static bool parse_u64(const char *s, uint64_t *out)
{
    uint64_t v = 0;
    if (!*s) return false;
    for (; *s; s++) {
        unsigned d = (unsigned)(*s - '0');
        if (d > 9 || v > (UINT64_MAX - d) / 10) return false;
        v = v * 10 + d;
    }
    *out = v;
    return true;
}

/* "D[.D]", ".D", at most 15 digits: mantissa / 10^k, one correctly rounded
 * division, so the double strtod would give, without strtod's locale. */
static bool parse_fraction(const char *s, double *out)
{
    uint64_t mantissa = 0, scale = 1;
    int digits = 0;
    bool point = false;
    for (; *s; s++) {
        if (*s == '.' && !point) {
            point = true;
        } else if (*s >= '0' && *s <= '9' && ++digits <= 15) {
            mantissa = mantissa * 10 + (uint64_t)(*s - '0');
            scale *= point ? 10 : 1;
        } else {
            return false;
        }
    }
    *out = (double)mantissa / (double)scale;
    return digits > 0;
}

/* Whether s starts with `shape`, where 'd' stands for any digit. */
static bool has_shape(const char *s, const char *shape)
{
    for (; *shape; s++, shape++)
        if (*shape == 'd' ? !(*s >= '0' && *s <= '9') : *s != *shape) return false;
    return true;
}

/* Unix ms, or RFC 3339 "YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM|-HH:MM)"; the
 * fraction is truncated to ms. */
static bool parse_time(const char *s, int64_t *ms)
{
    static const unsigned mdays[12] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    unsigned y, mo, d, h, mi, sec, oh = 0, om = 0, frac = 0, scale = 100;
    int sign = 0;
    uint64_t v;
    if (parse_u64(s, &v)) return v <= (uint64_t)INT64_MAX ? (*ms = (int64_t)v, true) : false;
    /* sscanf only reads digits that has_shape checked */
    if (!has_shape(s, "dddd-dd-ddTdd:dd:dd") ||
        sscanf(s, "%4u-%2u-%2uT%2u:%2u:%2u", &y, &mo, &d, &h, &mi, &sec) != 6)
        return false;
    if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || h > 23 || mi > 59 || sec > 59 ||
        (mo == 2 && d == 29 && (y % 4 || (y % 100 == 0 && y % 400))))
        return false;
    s += 19;
    if (*s == '.' && !has_shape(s, ".d")) return false;
    if (*s == '.')
        for (s++; *s >= '0' && *s <= '9'; s++, scale /= 10) frac += (unsigned)(*s - '0') * scale;
    if (*s == '+' || *s == '-') {
        sign = *s == '+' ? 1 : -1;
        if (!has_shape(s + 1, "dd:dd") || sscanf(s + 1, "%2u:%2u", &oh, &om) != 2 || oh > 23 ||
            om > 59)
            return false;
        s += 6;
    } else if (*s++ != 'Z') {
        return false;
    }
    int64_t secs = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec;
    *ms = (secs - sign * (int64_t)(oh * 3600 + om * 60)) * 1000 + frac;
    return *s == '\0';
}

static bool opts_check(const gen_opts_t *o, char *errbuf, size_t errlen)
{
    uint64_t span;
    if (o->fingerprints < 1 || o->fingerprints > GEN_MAX_FINGERPRINTS)
        return fail(errbuf, errlen, "--fingerprints must be 1..%u", GEN_MAX_FINGERPRINTS);
    if (o->format != GEN_JSON && o->format != GEN_PROTO)
        return fail(errbuf, errlen, "--format must be json or proto");
    if (o->start_ms <= 0 || o->start_ms > MAX_TIME_MS)
        return fail(errbuf, errlen,
                    "--start must be after 1970-01-01T00:00:00Z, before year 10000");
    if (o->spacing_ms < 0) return fail(errbuf, errlen, "--spacing-ms must not be negative");
    if (!(o->resolve_share >= 0.0 && o->resolve_share <= 1.0)) /* NaN too */
        return fail(errbuf, errlen, "--resolve-share must be between 0 and 1");
    const double shares[] = {o->flap_share, o->transient_share, o->excluded_share, o->flood_share,
                             o->flood_start};
    for (size_t i = 0; i < COUNT(shares); i++)
        if (!(shares[i] >= 0.0 && shares[i] <= 1.0))
            return fail(errbuf, errlen,
                        "every --*-share and --flood-start must be between 0 and 1");
    if (o->transient_share + o->excluded_share > 1.0)
        return fail(errbuf, errlen, "--transient-share and --excluded-share add up to more than 1");
    bool families = o->transient_share > 0 || o->excluded_share > 0 || o->flood_share > 0;
    if (o->flood_fingerprints < 1 ||
        (families && o->fingerprints + o->flood_fingerprints + EXCLUDED_FINGERPRINTS + 1024 >
                         GEN_MAX_FINGERPRINTS))
        return fail(errbuf, errlen,
                    "--flood-fingerprints must be 1..%u minus --fingerprints minus 1088",
                    GEN_MAX_FINGERPRINTS);
    if (o->duration_ms < 0 || o->duration_ms > MAX_TIME_MS - FIRING_ENDS_AFTER_MS - o->start_ms ||
        (o->alerts && __builtin_mul_overflow(o->alerts, (uint64_t)o->duration_ms, &span)))
        return fail(errbuf, errlen, "--duration goes past year 9999 or is too long for --alerts");
    if (o->duration_ms) return true;
    if (o->alerts && (__builtin_mul_overflow(o->alerts - 1, (uint64_t)o->spacing_ms, &span) ||
                      span > (uint64_t)(MAX_TIME_MS - FIRING_ENDS_AFTER_MS - o->start_ms)))
        return fail(errbuf, errlen, "--alerts times --spacing-ms goes past year 9999");
    return true;
}

qerr_t gen_parse_args(int argc, char **argv, gen_opts_t *o, bool *help, char *errbuf, size_t errlen)
{
    *help = false;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i], *eq = strchr(arg, '='), *val;
        size_t name_len = eq ? (size_t)(eq - arg) : strlen(arg), opt = 0;
        uint64_t u = 0;
        bool ok = true;
        if (!strcmp(arg, "--help") || !strcmp(arg, "-h")) return *help = true, QERR_OK;
        while (opt < COUNT(options) &&
               (strlen(options[opt].name) != name_len || strncmp(arg, options[opt].name, name_len)))
            opt++;
        if (opt == COUNT(options))
            return fail(errbuf, errlen, "unknown option '%s'", arg), QERR_INVALID;
        if (!eq && i + 1 == argc)
            return fail(errbuf, errlen, "%s needs a value", options[opt].name), QERR_INVALID;
        val = eq ? eq + 1 : argv[++i];
        switch (opt) {
        case OPT_ALERTS: ok = parse_u64(val, &o->alerts); break;
        case OPT_FINGERPRINTS: ok = parse_u64(val, &o->fingerprints); break;
        case OPT_SEED: ok = parse_u64(val, &o->seed); break;
        case OPT_FORMAT:
            ok = !strcmp(val, "json") || !strcmp(val, "proto");
            o->format = !strcmp(val, "proto") ? GEN_PROTO : GEN_JSON;
            break;
        case OPT_START: ok = parse_time(val, &o->start_ms); break;
        case OPT_SPACING:
            ok = parse_u64(val, &u) && u <= (uint64_t)MAX_TIME_MS;
            o->spacing_ms = (int64_t)u;
            break;
        case OPT_RESOLVE: ok = parse_fraction(val, &o->resolve_share); break;
        case OPT_DURATION:
            ok = conf_parse_duration_ms(val, &o->duration_ms) == QERR_OK && o->duration_ms > 0;
            break;
        case OPT_FLAP: ok = parse_fraction(val, &o->flap_share); break;
        case OPT_TRANSIENT: ok = parse_fraction(val, &o->transient_share); break;
        case OPT_EXCLUDED: ok = parse_fraction(val, &o->excluded_share); break;
        case OPT_FLOOD: ok = parse_fraction(val, &o->flood_share); break;
        case OPT_FLOOD_START: ok = parse_fraction(val, &o->flood_start); break;
        case OPT_FLOOD_FPS: ok = parse_u64(val, &o->flood_fingerprints); break;
        case OPT_SCENARIO:
            if (gen_load_scenario(val, o, NULL, errbuf, errlen) != QERR_OK) return QERR_INVALID;
            break;
        }
        if (!ok)
            return fail(errbuf, errlen, "bad value '%s' for %s %s: %s", val, options[opt].name,
                        options[opt].arg, options[opt].help),
                   QERR_INVALID;
    }
    return opts_check(o, errbuf, errlen) ? QERR_OK : QERR_INVALID;
}

/* ---- lifecycle, output ------------------------------------------------ */

gen_t *gen_new(const gen_opts_t *opts, char *errbuf, size_t errlen)
{
    if (!opts_check(opts, errbuf, errlen)) return NULL;
    uint64_t k = opts->fingerprints;
    gen_t *g = calloc(1, sizeof *g);
    if (!g) goto oom;
    g->opts = *opts;
    g->cdf = malloc(k * sizeof *g->cdf);
    /* Family indices follow the steady ones, below 2^24 (opts_check). */
    bool families = opts->transient_share > 0 || opts->excluded_share > 0 || opts->flood_share > 0;
    uint64_t all = k + (families ? opts->flood_fingerprints + EXCLUDED_FINGERPRINTS : 0);
    g->run_start_ms = calloc(all, sizeof *g->run_start_ms); /* pages in as touched */
    if (!g->cdf || !g->run_start_ms) goto oom;

    double total = 0.0;
    for (uint64_t r = 0; r < k; r++) {
        double x = (double)(r + 1);
        total += 1.0 / (x * sqrt(sqrt(sqrt(x)))); /* (r+1)^-9/8 */
        g->cdf[r] = total;
    }
    g->draw_scale = total * 0x1p-53;
    g->resolve_below = opts->resolve_share * 0x1p53;
    g->rng = opts->seed;
    g->families = families;
    g->excluded_below = opts->excluded_share * 0x1p53;
    g->transient_below = (opts->excluded_share + opts->transient_share) * 0x1p53;
    g->flood_below = opts->flood_share * 0x1p53;
    g->flood_rescale = opts->flood_share < 1 ? 1.0 / (1.0 - opts->flood_share) : 0.0;
    g->flap_below = opts->flap_share * 0x1p53;
    g->flood_from = (uint64_t)(opts->flood_start * (double)opts->alerts);
    if (opts->duration_ms && opts->flood_share > 0 && opts->flood_share < 1 && g->flood_from &&
        g->flood_from < opts->alerts) {
        /* Steady rate n0 / t0 before and (N - n0)(1 - f) / (D - t0) after. */
        double n0 = (double)g->flood_from, rest = (double)(opts->alerts - g->flood_from);
        double t0 = (double)opts->duration_ms / (1.0 + rest * (1.0 - opts->flood_share) / n0);
        g->flood_at_ms = (int64_t)t0;
    }
    g->flood_base = k;
    g->excluded_base = k + opts->flood_fingerprints;
    g->transient_base = all;
    g->transient_span = GEN_MAX_FINGERPRINTS - all;
    for (size_t i = 0; i < N_FLOOD_RULES; i++)
        for (size_t r = 0; r < N_STEADY_RULES; r++)
            if (!strcmp(rules[r].alertname, flood_rule_names[i])) g->flood_rules[i] = r;

    for (size_t i = 0; i < N_RULES; i++) {
        char lower[64] = "", *p = lower;
        for (const char *c = rules[i].alertname; *c && p < lower + sizeof lower - 1; c++)
            *p++ = (char)(*c >= 'A' && *c <= 'Z' ? *c - 'A' + 'a' : *c);
        snprintf(g->runbook_url[i], sizeof g->runbook_url[i],
                 "https://runbooks.prometheus-operator.dev/runbooks/%s/%s",
                 sources[rules[i].source].group, lower);
        snprintf(g->rule_url[i], sizeof g->rule_url[i],
                 "http://prometheus-k8s-0.prometheus-operated.monitoring.svc:9090/graph"
                 "?g0.expr=ALERTS%%7Balertname%%3D%%22%s%%22%%7D&g0.tab=1",
                 rules[i].alertname);
    }
    for (size_t i = 0; i < MAX_LABELS + N_ANNOTATIONS; i++) {
        quell__v1__label__init(&g->pb_labels[i]);
        g->pb_label_ptrs[i] = &g->pb_labels[i];
    }
    return g;
oom:
    fail(errbuf, errlen, "out of memory for %llu fingerprints", (unsigned long long)k);
    gen_destroy(g);
    return NULL;
}

void gen_destroy(gen_t *g)
{
    if (!g) return;
    free(g->cdf);
    free(g->run_start_ms);
    free(g);
}

qerr_t gen_write(gen_t *g, FILE *out)
{
    size_t used = 0, len;
    while (gen_next(g, NULL, &len, NULL, NULL)) {
        unsigned char *start = g->out + HEADROOM;
        size_t framed = len + 1;           /* JSON: the '\n' render_json left */
        if (g->opts.format == GEN_PROTO) { /* varint prefix in the headroom */
            unsigned char varint[HEADROOM];
            size_t n = 0;
            for (uint64_t v = len; v >= 0x80; v >>= 7) varint[n++] = (unsigned char)(v | 0x80);
            varint[n] = (unsigned char)(len >> (7 * n));
            start -= ++n;
            memcpy(start, varint, n);
            framed = n + len;
        }
        if (used + framed > WRITE_BYTES) {
            if (fwrite(g->wbuf, 1, used, out) != used) return QERR_IO;
            used = 0;
        }
        memcpy(g->wbuf + used, start, framed);
        used += framed;
    }
    if (used && fwrite(g->wbuf, 1, used, out) != used) return QERR_IO;
    return fflush(out) == 0 && !ferror(out) ? QERR_OK : QERR_IO;
}

int gen_main(int argc, char **argv)
{
    gen_opts_t opts;
    char err[256];
    bool help;
    gen_opts_defaults(&opts);
    if (gen_parse_args(argc, argv, &opts, &help, err, sizeof err) != QERR_OK) {
        fprintf(stderr, "quell gen: %s\nTry 'quell gen --help'.\n", err);
        return 2;
    }
    if (help) return gen_usage(stdout), fflush(stdout) == 0 ? 0 : 1;
    gen_t *g = gen_new(&opts, err, sizeof err);
    if (!g) return fprintf(stderr, "quell gen: %s\n", err), 1;
    qerr_t rc = gen_write(g, stdout);
    int saved_errno = errno;
    gen_destroy(g);
    if (rc != QERR_OK) fprintf(stderr, "quell gen: writing stdout: %s\n", strerror(saved_errno));
    return rc == QERR_OK ? 0 : 1;
}
