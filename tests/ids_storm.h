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
 * as fast.log writes it ("... [1:2030001:3]"), or as Snort's full alerts
 * (IDS_SNORT_FULL: `snort -A full -y`, a record of lines per alert: rule,
 * classification and priority, time and addresses, the packet's headers
 * with their per-packet fields, an Xref; ICMP without ports; one
 * signature without a classification line).
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
#define AIT_PHASES   7 /* ait_storm_write: 0 = background, 1..6 attack phases */
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
    /* the AIT-ADS-like storm (ait_storm_write): which IDS writes it, and
     * what it writes beside the name */
    int source;        /* 0 network IDS, AIT_WAZUH, AIT_AMINER */
    const char *kind;  /* Wazuh: rule.groups; AMiner: AnalysisComponentType */
    const char *text;  /* Wazuh: the log line's program; AMiner: Message */
    const char *paths; /* AMiner: AffectedLogAtomPaths, JSON array body */
} ids_sig_t;

typedef struct {
    ids_sig_t sig[IDS_MAX_SIGS];
    size_t n_sig;
    int64_t phase_start_ms[AIT_PHASES];
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

static ids_sig_t *ids_add(ids_storm_t *st, const char *name, const char *cat, int prio, int phase,
                          int64_t start, int64_t end, unsigned sources, unsigned alerts,
                          int id_kind, unsigned sid)
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
    return g;
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

/* The alerts of st's signatures, sorted by time: steady arrivals plus
 * bursts (a tenth of the alerts within two minutes); NULL when out of
 * memory. */
static ids_event_t *ids_events(const ids_storm_t *st, ids_rng_t *rng, size_t *n_out)
{
    ids_rng_t r = *rng;
    /* events: steady arrivals plus bursts (a tenth of the alerts within two minutes) */
    size_t total = 0;
    for (size_t i = 0; i < st->n_sig; i++) total += st->sig[i].alerts;
    ids_event_t *ev = malloc(total * sizeof *ev);
    if (!ev) return NULL;
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
    *rng = r;
    *n_out = n;
    return ev;
}

typedef enum { IDS_CSV, IDS_EVE, IDS_EXPORT, IDS_SNORT_FULL } ids_shape_t;

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
    size_t n;
    ids_event_t *ev = ids_events(st, &r, &n);
    if (!ev) return -1;
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
        else if (shape == IDS_SNORT_FULL) {
            /* Snort's time with -y: MM/DD/YY-hh:mm:ss.uuuuuu */
            char sts[64];
            struct tm stm;
            gmtime_r(&secs, &stm);
            size_t so = strftime(sts, sizeof sts, "%m/%d/%y-%H:%M:%S", &stm);
            snprintf(sts + so, sizeof sts - so, ".%03d%03u", (int)(ev[i].t % 1000), id % 1000);
            bool icmp = strstr(g->name, "ICMP") != NULL;
            fprintf(f, "[**] [1:%u:3] %s [**]\n", g->sid, name);
            if (g->sid != 2000000 + 3) /* one signature's rule has no classtype */
                fprintf(f, "[Classification: %s] [Priority: %d] \n", g->category, g->priority);
            if (icmp)
                fprintf(f,
                        "%s %s -> %s\nICMP TTL:64 TOS:0x0 ID:%u IpLen:20 DgmLen:84\n"
                        "Type:8  Code:0  ID:%u   Seq:%u  ECHO\n",
                        sts, src, dst, id * 7 % 65536, id, id % 97);
            else
                fprintf(f,
                        "%s %s:%u -> %s:%u\nTCP TTL:%u TOS:0x0 ID:%u IpLen:20 DgmLen:%u DF\n"
                        "***AP*** Seq: 0x%08X  Ack: 0x%08X  Win: 0x%X  TcpLen: 32\n",
                        sts, src, 1024 + id % 60000, dst, g->phase ? 443u : 53u, 48 + id % 80,
                        id * 13 % 65536, 52 + id % 1400, id * 2654435761u, id * 40503u,
                        0x1000 + id % 0xE000);
            if (g->sid % 3 == 0) fprintf(f, "[Xref => http://doc.example.net/%u]\n", g->sid);
            fputc('\n', f);
        } else if (shape == IDS_EVE)
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

/* ---- an AIT-ADS-like scenario: Wazuh and AMiner alerts of one attack ----
 *
 * Per scenario, two host IDSs over four days, each writing its own file:
 * Wazuh's alerts.json (one JSON object a line: "timestamp" with a +0000
 * offset, "rule": {"level", "description", "id", "firedtimes", "groups"},
 * "agent": {"id", "name", "ip"}, "manager", "id", "full_log",
 * "predecoder", "decoder", "data", "location"), and AMiner's JSON
 * ("AnalysisComponent": {"AnalysisComponentIdentifier", "...Type",
 * "...Name", "Message", "PersistenceFileName", "AffectedLogAtomPaths",
 * "AffectedLogAtomValues"}, "LogData": {"RawLogData": [...],
 * "Timestamps": [epoch seconds], "DetectionTimestamp", "LogLinesCount"},
 * "AMiner": {"ID"}). The background is recurring noise from many hosts
 * (file integrity, ports, PAM and sudo, Suricata through Wazuh, AMiner
 * detectors on every host seeing new values with the values in their
 * messages); six attack phases (scans, a webshell upload, password
 * cracking, privilege escalation, remote command execution, DNS
 * exfiltration) each bring Wazuh rules and AMiner detector instances of
 * their own, the AMiner ones of a type (and message) that also fires in
 * the background, and make background rules burst. A signature's name is
 * what names it: rule.description, AnalysisComponentName. With
 * AIT_WAZUH_LOG the Wazuh alerts are written as OSSEC's (and Wazuh's)
 * alerts.log instead: "** Alert ID: [mail ] - GROUPS,", "YYYY Mon DD
 * hh:mm:ss (AGENT) IP->LOCATION" (the manager's own "HOST->LOCATION" for
 * the firewall host), "Rule: ID (level N) -> 'DESCRIPTION'", Src IP and
 * User lines, the log line (several for file integrity), a blank line.
 * Nothing is taken
 * from a data set: field layouts as the two tools document them, names and
 * values made up. */

#define AIT_WAZUH        1
#define AIT_AMINER       2
#define AIT_WAZUH_ARRAY  1 /* Wazuh records as one pretty-printed JSON array (an export) */
#define AIT_AMINER_LINES 2 /* AMiner records one a line, else indented (its json.dumps) */
#define AIT_WAZUH_LOG    4 /* Wazuh records as its alerts.log text (OSSEC's format), not JSON */

static const char *const ait_hosts[] = {"intranet-server", "mail",    "cloud-share", "dns",
                                        "monitoring",      "vpn",     "ext-web",     "user-01",
                                        "user-02",         "user-03", "user-04",     "user-05",
                                        "user-06",         "user-07", "user-08",     "fw"};
#define AIT_HOSTS ((unsigned)(sizeof ait_hosts / sizeof *ait_hosts))

/* By detection time: for AMiner's alerts their time plus the delay in
 * `dst` (see ait_storm_write), which no other field of theirs reads. */
static int ait_detected_cmp(const void *a, const void *b)
{
    const ids_event_t *x = a, *y = b;
    int64_t dx = x->t + x->dst, dy = y->t + y->dst;
    if (dx != dy) return dx < dy ? -1 : 1;
    return ids_event_cmp(a, b);
}

static void ait_time(char *ts, size_t cap, int64_t ms)
{
    time_t secs = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    size_t o = strftime(ts, cap, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(ts + o, cap - o, ".%03d+0000", (int)(ms % 1000));
}

/* Writes about `scale` alerts (45,000 for the size the issue names) of one
 * scenario: the Wazuh ones to `wazuh_path`, the AMiner ones to
 * `aminer_path` (either NULL: not written, its signatures still in st).
 * `flags`: AIT_WAZUH_ARRAY, AIT_AMINER_LINES. st->alerts counts those
 * written. */
static int ait_storm_write(ids_storm_t *st, const char *wazuh_path, const char *aminer_path,
                           uint64_t seed, unsigned scale, unsigned flags)
{
    memset(st, 0, sizeof *st);
    ids_rng_t r = {seed | 1};
    const int64_t H = 3600000, t0 = 1772409600000LL; /* 2026-03-02T00:00:00Z */
    const int64_t span = 96 * H;
    double k = scale / 45000.0;
    st->phase_start_ms[0] = t0;
    static const struct {
        const char *desc, *groups, *program;
        int level;
        unsigned id, weight;
    } wz_bg[] = {
        {"Integrity checksum changed.", "ossec\",\"syscheck\",\"syscheck_entry_modified", "", 7,
         550, 5000},
        {"Listened ports status (netstat) changed (new port opened or closed).", "ossec", "", 7,
         533, 2500},
        {"PAM: Login session opened.", "pam\",\"syslog\",\"authentication_success", "sshd", 3, 5501,
         4000},
        {"PAM: Login session closed.", "pam\",\"syslog", "sshd", 3, 5502, 4000},
        {"Successful sudo to ROOT executed.", "syslog\",\"sudo", "sudo", 3, 5402, 2500},
        {"Suricata: Alert - ET POLICY GNU/Linux APT User-Agent Outbound", "ids\",\"suricata", "", 3,
         86601, 2000},
        {"Suricata: Alert - SURICATA STREAM Packet with invalid ack", "ids\",\"suricata", "", 3,
         86601, 1500},
        {"Dovecot Authentication Success.", "dovecot\",\"authentication_success", "dovecot", 3,
         9706, 1200},
        {"Web server 400 error code.", "web\",\"accesslog\",\"attack", "apache", 5, 31101, 800},
        {"Host-based anomaly detection event (rootcheck).", "ossec\",\"rootcheck", "", 7, 510, 600},
    };
    /* AMiner detectors in the background: every AMiner host, each type of
     * them also among the attack phases' detectors */
    static const struct {
        const char *name, *type, *message, *paths;
        unsigned weight;
    } am_bg[] = {
        {"NewValueDetectorApacheRequest", "NewMatchPathValueDetector", "New value(s) detected",
         "\"/model/accesslog/request\"", 3500},
        {"NewValueComboDetectorSyslogUser", "NewMatchPathValueComboDetector",
         "New value combination(s) detected", "\"/model/syslog/host\",\"/model/syslog/user\"",
         2500},
        {"ValueRangeDetectorAuditUid", "ValueRangeDetector", "Value range anomaly detected",
         "\"/model/audit/uid\"", 2000},
        {"CharsetDetectorApacheUserAgent", "CharsetDetector", "New character(s) detected",
         "\"/model/accesslog/user_agent\"", 1500},
        {"EventFrequencyDetectorSyslog", "EventFrequencyDetector", "Frequency anomaly detected",
         "\"/model/syslog\"", 1200},
    };
    for (size_t i = 0; i < sizeof wz_bg / sizeof *wz_bg; i++) {
        ids_sig_t *g =
            ids_add(st, wz_bg[i].desc, NULL, wz_bg[i].level, 0, t0, t0 + span,
                    4 + ids_below(&r, AIT_HOSTS - 4),
                    (unsigned)(k * (wz_bg[i].weight + ids_below(&r, 300))), 0, wz_bg[i].id);
        g->source = AIT_WAZUH;
        g->kind = wz_bg[i].groups;
        g->text = wz_bg[i].program;
    }
    /* a rule whose description carries an id: one family, many names */
    ids_sig_t *sca = ids_add(st, "SCA: check failed: Ensure no world writable file, id", NULL, 7, 0,
                             t0, t0 + span, AIT_HOSTS, (unsigned)(k * 900), 3, 19007);
    sca->source = AIT_WAZUH;
    sca->kind = "sca";
    sca->text = "";
    for (size_t i = 0; i < sizeof am_bg / sizeof *am_bg; i++) {
        ids_sig_t *g = ids_add(st, am_bg[i].name, NULL, 0, 0, t0, t0 + span, 5,
                               (unsigned)(k * (am_bg[i].weight + ids_below(&r, 300))), 0, 0);
        g->source = AIT_AMINER;
        g->kind = am_bg[i].type;
        g->text = am_bg[i].message;
        g->paths = am_bg[i].paths;
    }
    static const struct {
        const char *wazuh[3], *wazuh_groups;
        int level;
        const char *aminer, *aminer_type, *aminer_message, *aminer_paths;
        int burst; /* the background rule it makes burst, -1 none */
    } phases[6] = {
        {{"Suricata: Alert - ET SCAN Nmap Scripting Engine User-Agent Detected",
          "Suricata: Alert - ET SCAN Possible Nikto Web Scanner",
          "Multiple web server 400 error codes from same source ip."},
         "web\",\"accesslog\",\"web_scan\",\"recon",
         10,
         "EventFrequencyDetectorApacheStatus",
         "EventFrequencyDetector",
         "Frequency anomaly detected",
         "\"/model/accesslog/status\"",
         8},
        {{"Apache: file upload of a PHP script to a web directory",
          "Suricata: Alert - ET WEB_SERVER WebShell Generic POST", NULL},
         "web\",\"attack\",\"webshell",
         12,
         "NewValueComboDetectorApacheUpload",
         "NewMatchPathValueComboDetector",
         "New value combination(s) detected",
         "\"/model/accesslog/method\",\"/model/accesslog/request\"",
         -1},
        {{"sshd: brute force trying to get access to the system. Non existent user.",
          "PAM: Multiple failed logins in a small period of time.",
          "Dovecot brute force attack (multiple auth failures)."},
         "authentication_failures\",\"pam\",\"sshd",
         10,
         "NewValueDetectorSshFailedUser",
         "NewMatchPathValueDetector",
         "New value(s) detected",
         "\"/model/auth/failed_user\"",
         2},
        {{"First time user executed sudo.", "Audit: user changed to root by a web process.", NULL},
         "syslog\",\"sudo\",\"privilege_escalation",
         9,
         "ValueRangeDetectorAuditEuid",
         "ValueRangeDetector",
         "Value range anomaly detected",
         "\"/model/audit/euid\"",
         4},
        {{"Audit: command executed by the web server user.",
          "Suricata: Alert - ET ATTACK_RESPONSE id check returned root", NULL},
         "audit\",\"audit_command\",\"rce",
         11,
         "CharsetDetectorAuditExecve",
         "CharsetDetector",
         "New character(s) detected",
         "\"/model/audit/execve/argv\"",
         -1},
        {{"Suricata: Alert - ET DNS Excessive DNS queries to one domain",
          "Suricata: Alert - ET POLICY DNS TXT query with long label", NULL},
         "ids\",\"suricata\",\"exfiltration",
         8,
         "ValueRangeDetectorDnsQueryLength",
         "ValueRangeDetector",
         "Value range anomaly detected",
         "\"/model/dns/query_length\"",
         -1},
    };
    static const int64_t phase_at[6] = {8, 20, 33, 47, 60, 75};
    for (int p = 0; p < 6; p++) {
        int64_t s = t0 + phase_at[p] * H + ids_below(&r, 1800000);
        st->phase_start_ms[p + 1] = s;
        for (int i = 0; i < 3 && phases[p].wazuh[i]; i++) {
            bool rare = i == 2 && p % 2 == 0; /* a rare one: two alerts */
            ids_sig_t *g =
                ids_add(st, phases[p].wazuh[i], NULL, phases[p].level, p + 1, s + i * 300000,
                        s + (rare ? 1 : 2) * H + i * 300000, 1 + (unsigned)p % 3,
                        rare ? 2 : (unsigned)(k * (200 + ids_below(&r, 600))), 0,
                        100100 + (unsigned)(p * 10 + i));
            g->source = AIT_WAZUH;
            g->kind = phases[p].wazuh_groups;
            g->text = "";
        }
        ids_sig_t *g = ids_add(st, phases[p].aminer, NULL, 0, p + 1, s + 60000, s + 2 * H, 2,
                               (unsigned)(k * (150 + ids_below(&r, 400))), 0, 0);
        g->source = AIT_AMINER;
        g->kind = phases[p].aminer_type;
        g->text = phases[p].aminer_message;
        g->paths = phases[p].aminer_paths;
        if (phases[p].burst >= 0) { /* the attack makes a background rule burst too */
            const ids_sig_t *bg = &st->sig[phases[p].burst];
            char name[sizeof bg->name]; /* ids_add writes into st */
            memcpy(name, bg->name, sizeof name);
            ids_sig_t *b = ids_add(st, name, NULL, bg->priority, 0, s, s + H / 2, 3,
                                   (unsigned)(k * 400), 0, bg->sid);
            b->source = AIT_WAZUH;
            b->kind = bg->kind;
            b->text = bg->text;
        }
    }
    size_t n;
    ids_event_t *ev = ids_events(st, &r, &n);
    if (!ev) return -1;
    /* AMiner writes an alert when it detects it, up to 5 s after the log
     * line's time (Timestamps), from several logs: its file is in
     * detection order, its log times a little out of order */
    for (size_t e = 0; e < n; e++)
        if (st->sig[ev[e].sig].source == AIT_AMINER)
            ev[e].dst = 500 + ev[e].id % 4500;
        else
            ev[e].dst = 0;
    qsort(ev, n, sizeof *ev, ait_detected_cmp);
    FILE *wf = wazuh_path ? fopen(wazuh_path, "w") : NULL;
    FILE *af = aminer_path ? fopen(aminer_path, "w") : NULL;
    int rc = (wazuh_path && !wf) || (aminer_path && !af) ? -1 : 0;
    bool wz_array = flags & AIT_WAZUH_ARRAY, am_lines = flags & AIT_AMINER_LINES;
    bool wz_log = flags & AIT_WAZUH_LOG;
    if (wz_log) wz_array = false;
    if (wf && wz_array) fputs("[\n", wf);
    size_t wz_n = 0, am_n = 0;
    unsigned fired[IDS_MAX_SIGS] = {0};
    for (size_t e = 0; e < n && !rc; e++) {
        const ids_sig_t *g = &st->sig[ev[e].sig];
        const char *host = ait_hosts[ev[e].src % AIT_HOSTS];
        uint32_t id = ev[e].id;
        char ts[64];
        ait_time(ts, sizeof ts, ev[e].t);
        fired[ev[e].sig]++;
        if (g->source == AIT_WAZUH && wf) {
            char desc[220], srcip[32];
            if (g->id_kind == 3)
                snprintf(desc, sizeof desc, "%s %u", g->name, 28000 + id % 40);
            else
                snprintf(desc, sizeof desc, "%s", g->name);
            snprintf(srcip, sizeof srcip, g->phase ? "192.168.%u.%u" : "10.35.%u.%u",
                     g->phase ? 230u : 35u + id % 3, 1 + id / 3 % 250);
            const char *sp = wz_array ? "  " : "", *nl = wz_array ? "\n" : "";
            if (wz_log) {
                char groups[200], when[64];
                size_t o = 0;
                for (const char *k = g->kind; *k && o + 2 < sizeof groups; k++)
                    if (*k != '"') groups[o++] = *k; /* "a\",\"b" -> a,b */
                groups[o] = '\0';
                time_t secs = (time_t)(ev[e].t / 1000);
                struct tm tm;
                gmtime_r(&secs, &tm);
                strftime(when, sizeof when, "%Y %b %d %H:%M:%S", &tm);
                const char *prog = *g->text ? g->text : "ossec";
                fprintf(wf, "** Alert %lld.%u:%s - %s,\n", (long long)(ev[e].t / 1000),
                        (unsigned)e * 1237, g->priority >= 12 ? " mail " : "", groups);
                if (ev[e].src % AIT_HOSTS == AIT_HOSTS - 1) /* the manager's own logs */
                    fprintf(wf, "%s wazuh-manager->/var/log/%s\n", when,
                            *g->text ? "auth.log" : "ossec.log");
                else
                    fprintf(wf, "%s (%s) 10.35.35.%u->/var/log/%s\n", when, host,
                            100 + ev[e].src % AIT_HOSTS, *g->text ? "auth.log" : "ossec.log");
                fprintf(wf, "Rule: %u (level %d) -> '%s'\n", g->sid, g->priority, desc);
                if (*g->text) fprintf(wf, "Src IP: %s\nUser: user%u\n", srcip, id % 7);
                strftime(when, sizeof when, "%b %e %H:%M:%S", &tm);
                if (!strcmp(prog, "ossec") && strstr(g->kind, "syscheck"))
                    fprintf(wf,
                            "File '/etc/app/conf%u' modified\nMode: scheduled\n"
                            "Changed attributes: size,mtime\nSize changed from '%u' to '%u'\n",
                            id % 40, id % 900, id % 900 + 16);
                else
                    fprintf(wf, "%s %s %s[%u]: event %u from %s\n", when, host, prog, 1000 + id, id,
                            srcip);
                fputc('\n', wf);
                wz_n++;
                continue;
            }
            fprintf(wf,
                    "%s%s{%s%s\"timestamp\":\"%s\",%s%s\"rule\":{\"level\":%d,\"description\":"
                    "\"%s\",\"id\":\"%u\",\"firedtimes\":%u,\"mail\":false,\"groups\":[\"%s\"]},"
                    "%s%s\"agent\":{\"id\":\"%03u\",\"name\":\"%s\",\"ip\":\"10.35.35.%u\"},%s%s"
                    "\"manager\":{\"name\":\"wazuh-manager\"},%s%s\"id\":\"%lld.%u\",%s%s"
                    "\"full_log\":\"%s[%u]: event %u from %s on %s\",%s%s"
                    "\"predecoder\":{\"program_name\":\"%s\",\"hostname\":\"%s\"},%s%s"
                    "\"decoder\":{\"name\":\"%s\"},%s%s\"data\":{\"srcip\":\"%s\"},%s%s"
                    "\"location\":\"/var/log/%s\"%s%s}",
                    wz_n && wz_array ? ",\n" : "", sp, nl, sp, ts, nl, sp, g->priority, desc,
                    g->sid, fired[ev[e].sig], g->kind, nl, sp, 1 + ev[e].src % AIT_HOSTS, host,
                    100 + ev[e].src % AIT_HOSTS, nl, sp, nl, sp, (long long)(ev[e].t / 1000),
                    (unsigned)e, nl, sp, *g->text ? g->text : "ossec", 1000 + id, id, srcip, host,
                    nl, sp, *g->text ? g->text : "ossec", host, nl, sp,
                    *g->text ? g->text : "ossec", nl, sp, srcip, nl, sp,
                    *g->text ? "auth.log" : "ossec.log", nl, sp);
            if (!wz_array) fputc('\n', wf);
            wz_n++;
        } else if (g->source == AIT_AMINER && af) {
            /* the value the detector saw, and a message with values in it
             * as some detectors write theirs */
            const char *am_host = ait_hosts[ev[e].src % 5];
            char msg[200];
            if (!strcmp(g->kind, "EventFrequencyDetector") ||
                !strcmp(g->kind, "ValueRangeDetector"))
                snprintf(msg, sizeof msg, "%s: %u (expected %u-%u)", g->text, 40 + id % 300, id % 7,
                         10 + id % 9);
            else
                snprintf(msg, sizeof msg, "%s", g->text);
            const char *sp = am_lines ? "" : "  ", *sp2 = am_lines ? "" : "    ",
                       *nl = am_lines ? "" : "\n";
            double at = (double)ev[e].t / 1000.0;
            fprintf(af,
                    "{%s%s\"AnalysisComponent\": {%s%s\"AnalysisComponentIdentifier\": %u,%s%s"
                    "\"AnalysisComponentType\": \"%s\",%s%s\"AnalysisComponentName\": \"%s\",%s%s"
                    "\"Message\": \"%s\",%s%s\"PersistenceFileName\": \"Default\",%s%s"
                    "\"TrainingMode\": false,%s%s\"AffectedLogAtomPaths\": [%s],%s%s"
                    "\"AffectedLogAtomValues\": [\"v%u\"]%s%s},%s%s\"LogData\": {%s%s"
                    "\"RawLogData\": [\"%s %s[%u]: value v%u\"],%s%s\"Timestamps\": [%.2f],%s%s"
                    "\"DetectionTimestamp\": %.2f,%s%s\"LogLinesCount\": 1%s%s},%s%s"
                    "\"AMiner\": {%s%s\"ID\": \"%s\"%s%s}%s}\n",
                    nl, sp, nl, sp2, ev[e].sig, nl, sp2, g->kind, nl, sp2, g->name, nl, sp2, msg,
                    nl, sp2, nl, sp2, nl, sp2, g->paths, nl, sp2, id, nl, sp, nl, sp, nl, sp2,
                    am_host, g->kind, 1000 + id, id, nl, sp2, at, nl, sp2, at + ev[e].dst / 1000.0,
                    nl, sp2, nl, sp, nl, sp, nl, sp2, am_host, nl, sp, nl);
            am_n++;
        }
    }
    if (wf && wz_array) fputs("\n]\n", wf);
    st->alerts = wz_n + am_n;
    free(ev);
    if (wf && fclose(wf)) rc = -1;
    if (af && fclose(af)) rc = -1;
    return rc;
}

#endif
