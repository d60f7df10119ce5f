/*
 * A generated IDS alert storm (Suricata/Snort-like), for test_suggest:
 * background signatures firing from hundreds of hosts with bursts all the
 * time, signatures with ids in their names (flow ids, session uuids, ping
 * ids), and attack phases, each bringing new signatures and categories
 * (one of them rare: two alerts). Deterministic for a seed. Written as CSV
 * (timestamp,signature,signature_id,category,priority,src_ip,src_port,
 * dest_ip,dest_port,proto), as Suricata EVE JSON lines
 * ({"timestamp":..,"src_ip":..,"alert":{"signature":..,"category":..,
 * "severity":..}}), or as a SIEM export: one pretty-printed JSON array,
 * newest alert first, Unix-ms times, column names as a UI spells them
 * ("Event Time", "Signature Name", "Source IP"), the rule id in the name
 * as fast.log writes it ("... [1:2030001:3]").
 *
 * Nothing here is taken from a real data set: the shapes are the ones the
 * issue names (one signature from many hosts, bursts, ids in names).
 */
#ifndef QUELL_TEST_IDS_STORM_H
#define QUELL_TEST_IDS_STORM_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define IDS_PHASES   6 /* 0 = background, 1..5 attack phases */
#define IDS_MAX_SIGS 64

typedef struct {
    char name[160];
    const char *category;
    int priority;
    int phase;
    int64_t start_ms, end_ms; /* when it fires */
    unsigned sources;         /* distinct source hosts */
    unsigned alerts;          /* about how many */
    int id_kind;              /* 0 none, 1 hex flow id, 2 uuid, 3 decimal id */
    unsigned sid;
} ids_sig_t;

typedef struct {
    ids_sig_t sig[IDS_MAX_SIGS];
    size_t n_sig;
    int64_t phase_start_ms[IDS_PHASES];
    size_t alerts; /* written */
} ids_storm_t;

typedef struct {
    uint64_t s;
} ids_rng_t;

static inline uint64_t ids_next(ids_rng_t *r)
{
    r->s ^= r->s << 13;
    r->s ^= r->s >> 7;
    r->s ^= r->s << 17;
    return r->s;
}
static inline unsigned ids_below(ids_rng_t *r, unsigned n) { return (unsigned)(ids_next(r) % n); }

static void ids_add(ids_storm_t *st, const char *name, const char *cat, int prio, int phase,
                    int64_t start, int64_t end, unsigned sources, unsigned alerts, int id_kind,
                    unsigned sid)
{
    ids_sig_t *g = &st->sig[st->n_sig++];
    snprintf(g->name, sizeof g->name, "%s", name);
    g->category = cat;
    g->priority = prio;
    g->phase = phase;
    g->start_ms = start;
    g->end_ms = end;
    g->sources = sources;
    g->alerts = alerts;
    g->id_kind = id_kind;
    g->sid = sid;
}

typedef struct {
    int64_t t;
    uint16_t sig;
    uint32_t src, dst;
    uint32_t id;
} ids_event_t;

static int ids_event_cmp(const void *a, const void *b)
{
    const ids_event_t *x = a, *y = b;
    if (x->t != y->t) return x->t < y->t ? -1 : 1;
    return x->sig - y->sig;
}

typedef enum { IDS_CSV, IDS_EVE, IDS_EXPORT } ids_shape_t;

/* Writes about `scale` alerts (45,000 for the size the issue names). */
static int ids_storm_write(ids_storm_t *st, const char *path, ids_shape_t shape, uint64_t seed,
                           unsigned scale)
{
    memset(st, 0, sizeof *st);
    ids_rng_t r = {seed | 1};
    const int64_t H = 3600000, t0 = 1772409600000LL; /* 2026-03-02T00:00:00Z */
    const int64_t span = 72 * H;
    double k = scale / 45000.0;
    st->phase_start_ms[0] = t0;
    static const char *const bg_names[] = {
        "ET POLICY Dropbox.com Offsite File Backup in Use",
        "ET INFO Observed DNS Query to .cloud TLD",
        "SURICATA STREAM ESTABLISHED packet out of window",
        "SURICATA STREAM Packet with invalid ack",
        "ET POLICY GNU/Linux APT User-Agent Outbound",
        "ET INFO HTTP Request to a *.top domain",
        "GPL ICMP_INFO PING *NIX",
        "ET POLICY Outdated Windows Flash Version IE",
        "SURICATA TLS invalid record type",
        "ET INFO Session Traversal Utilities for NAT (STUN Binding Request)",
        "ET POLICY Spotify P2P Client",
        "SURICATA UDPv4 invalid checksum",
        "ET INFO Windows OS Submitting USB Metadata to Microsoft",
        "ET POLICY curl User-Agent Outbound",
        "SURICATA HTTP unable to match response to request",
        "ET INFO TLS Handshake Failure",
        "ET POLICY SSH session in progress on Unusual Port",
        "GPL SNMP public access udp",
        "ET INFO Packed Executable Download",
        "SURICATA STREAM 3way handshake wrong seq wrong ack",
        /* names with a number that is part of the signature, not an id:
         * a third one is new in phase 3 and must stay apart */
        "ET CINS Active Threat Intelligence Poor Reputation IP group 12",
        "ET CINS Active Threat Intelligence Poor Reputation IP group 31",
    };
    static const char *const bg_cats[] = {"Potential Corporate Privacy Violation", "Misc activity",
                                          "Generic Protocol Command Decode",
                                          "Not Suspicious Traffic"};
    size_t nbg = sizeof bg_names / sizeof *bg_names;
    for (size_t i = 0; i < nbg; i++)
        ids_add(st, bg_names[i], bg_cats[i % 4], 3 - (i % 5 == 0), 0, t0, t0 + span,
                100 + ids_below(&r, 400), (unsigned)(k * (700 + ids_below(&r, 1100))), 0,
                2000000 + (unsigned)i);
    /* names with ids in them: one family each, many raw names */
    ids_add(st, "SURICATA STREAM reassembly overlap flow", "Generic Protocol Command Decode", 3, 0,
            t0, t0 + span, 200, (unsigned)(k * 1500), 1, 2210050);
    ids_add(st, "ET INFO TLS session resumed", "Misc activity", 3, 0, t0, t0 + span, 150,
            (unsigned)(k * 1200), 2, 2230010);
    ids_add(st, "GPL ICMP_INFO PING id", "Misc activity", 3, 0, t0, t0 + span, 300,
            (unsigned)(k * 1500), 3, 2100366);
    /* attack phases */
    static const struct {
        const char *names[4];
        const char *cat;
        int prio;
    } phases[5] = {
        {{"ET SCAN Nmap Scripting Engine User-Agent Detected", "ET SCAN Potential SSH Scan",
          "ET SCAN Suspicious inbound to mySQL port 3306"},
         "Detection of a Network Scan",
         2},
        {{"ET EXPLOIT Apache log4j RCE Attempt (CVE-2021-44228)",
          "ET EXPLOIT Spring4Shell RCE Attempt (CVE-2022-22965)",
          "ET WEB_SERVER Possible SQL Injection Attempt UNION SELECT"},
         "Attempted Administrator Privilege Gain",
         1},
        {{"ET TROJAN Cobalt Strike Beacon Observed", "ET MALWARE Possible Meterpreter session",
          "ET TROJAN DNS Query to Known C2 Domain",
          "ET CINS Active Threat Intelligence Poor Reputation IP group 58"},
         "A Network Trojan was detected",
         1},
        {{"ET EXPLOIT Possible ETERNALBLUE MS17-010 Echo Response",
          "ET EXPLOIT Apache log4j RCE Attempt (CVE-2021-45046)",
          "ET POLICY SMB2 NT Create AndX Request For an Executable File"},
         "Attempted User Privilege Gain",
         1},
        {{"ET POLICY Large DNS TXT Response Outbound",
          "ET INFO Possible Data Exfiltration via HTTP POST",
          "ET TROJAN Exfiltration over FTP to External Host"},
         "Potentially Bad Traffic",
         2},
    };
    static const int64_t phase_at[5] = {6, 18, 31, 45, 60};
    for (int p = 0; p < 5; p++) {
        int64_t s = t0 + phase_at[p] * H + ids_below(&r, 1800000);
        st->phase_start_ms[p + 1] = s;
        for (int i = 0; i < 4 && phases[p].names[i]; i++) {
            bool rare = i == 2 && p % 2 == 1; /* a rare critical: two alerts */
            unsigned n = rare ? 2 : (unsigned)(k * (300 + ids_below(&r, 1200)));
            ids_add(st, phases[p].names[i], phases[p].cat, phases[p].prio, p + 1, s + i * 600000,
                    s + (rare ? 1 : 3) * H + i * 600000, rare ? 1 : 50 + ids_below(&r, 400), n, 0,
                    2030000 + (unsigned)(p * 10 + i));
        }
    }
    /* events: steady arrivals plus bursts (a tenth of the alerts within two minutes) */
    size_t total = 0;
    for (size_t i = 0; i < st->n_sig; i++) total += st->sig[i].alerts;
    ids_event_t *ev = malloc(total * sizeof *ev);
    if (!ev) return -1;
    size_t n = 0;
    for (size_t i = 0; i < st->n_sig; i++) {
        const ids_sig_t *g = &st->sig[i];
        int64_t len = g->end_ms - g->start_ms;
        unsigned bursts = g->alerts >= 100 ? 1 + ids_below(&r, 6) : 0;
        int64_t burst_at[8];
        for (unsigned b = 0; b < bursts; b++)
            burst_at[b] = g->start_ms + (int64_t)(ids_next(&r) % (uint64_t)len);
        for (unsigned a = 0; a < g->alerts; a++) {
            int64_t t;
            if (a == 0)
                t = g->start_ms; /* a signature's first alert opens its phase */
            else if (bursts && ids_below(&r, 10) < 3)
                t = burst_at[ids_below(&r, bursts)] + ids_below(&r, 120000);
            else
                t = g->start_ms + (int64_t)(ids_next(&r) % (uint64_t)len);
            if (t >= g->end_ms) t = g->end_ms - 1;
            ev[n++] = (ids_event_t){t, (uint16_t)i, ids_below(&r, g->sources), ids_below(&r, 600),
                                    ids_below(&r, 5000)};
        }
    }
    qsort(ev, n, sizeof *ev, ids_event_cmp);
    FILE *f = fopen(path, "w");
    if (!f) {
        free(ev);
        return -1;
    }
    if (shape == IDS_CSV)
        fprintf(f, "timestamp,signature,signature_id,category,priority,src_ip,src_port,dest_ip,"
                   "dest_port,proto\n");
    if (shape == IDS_EXPORT) fputs("[\n", f);
    for (size_t k = 0; k < n; k++) {
        size_t i = shape == IDS_EXPORT ? n - 1 - k : k; /* the export: newest first */
        const ids_sig_t *g = &st->sig[ev[i].sig];
        char name[220], ts[64];
        uint32_t id = ev[i].id;
        switch (g->id_kind) {
        case 1: snprintf(name, sizeof name, "%s 0x%08x", g->name, id * 2654435761u); break;
        case 2:
            snprintf(name, sizeof name, "%s %08x-%04x-4%03x-a%03x-%012llx", g->name,
                     id * 2654435761u, id & 0xffff, id & 0xfff, (id >> 3) & 0xfff,
                     (unsigned long long)id * 0x9E3779B97ull & 0xffffffffffffull);
            break;
        case 3: snprintf(name, sizeof name, "%s %u", g->name, 10000 + id); break;
        default: snprintf(name, sizeof name, "%s", g->name);
        }
        time_t secs = (time_t)(ev[i].t / 1000);
        struct tm tm;
        gmtime_r(&secs, &tm);
        size_t o = strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &tm);
        snprintf(ts + o, sizeof ts - o, ".%03d%03u+0000", (int)(ev[i].t % 1000), id % 1000);
        /* attacks come from few outside hosts to many inside, noise from inside */
        char src[32], dst[32];
        if (g->phase) {
            snprintf(src, sizeof src, "203.0.113.%u", 1 + ev[i].src % 20);
            snprintf(dst, sizeof dst, "10.1.%u.%u", ev[i].dst / 250, 1 + ev[i].dst % 250);
        } else {
            snprintf(src, sizeof src, "10.1.%u.%u", ev[i].src / 250, 1 + ev[i].src % 250);
            snprintf(dst, sizeof dst, "198.51.100.%u", 1 + ev[i].dst % 200);
        }
        if (shape == IDS_EXPORT)
            fprintf(f,
                    "%s  {\n    \"Event Time\": %lld,\n    \"Signature Name\": \"%s [1:%u:3]\",\n"
                    "    \"Category\": \"%s\",\n    \"Severity\": %d,\n    \"Source IP\": \"%s\",\n"
                    "    \"Destination IP\": \"%s\"\n  }",
                    k ? ",\n" : "", (long long)ev[i].t, name, g->sid, g->category, g->priority, src,
                    dst);
        else if (shape == IDS_EVE)
            fprintf(f,
                    "{\"timestamp\":\"%s\",\"event_type\":\"alert\",\"src_ip\":\"%s\","
                    "\"src_port\":%u,\"dest_ip\":\"%s\",\"dest_port\":%u,\"proto\":\"TCP\","
                    "\"alert\":{\"signature_id\":%u,\"signature\":\"%s\",\"category\":\"%s\","
                    "\"severity\":%d}}\n",
                    ts, src, 1024 + id % 60000, dst, g->phase ? 443u : 53u, g->sid, name,
                    g->category, g->priority);
        else
            fprintf(f, "%s,\"%s\",%u,%s,%d,%s,%u,%s,%u,TCP\n", ts, name, g->sid, g->category,
                    g->priority, src, 1024 + id % 60000, dst, g->phase ? 443u : 53u);
    }
    if (shape == IDS_EXPORT) fputs("\n]\n", f);
    st->alerts = n;
    free(ev);
    return fclose(f) == 0 ? 0 : -1;
}

#endif
