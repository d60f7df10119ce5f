/*
 * Alertmanager's API v2 on quell's HTTP server, so amtool, Grafana's
 * Alertmanager data source and karma can talk to `quell run` (docs/api.md
 * says what works): silences (dedup/silence.h), the alerts quell holds
 * open (from the decision log's recent decisions), status and receivers;
 * plus /api/v1/explain?fingerprint=FP.
 */
#ifndef QUELL_API_V2_H
#define QUELL_API_V2_H

#include "../dedup/dedup.h"
#include "declog.h"

typedef struct api_v2 api_v2_t;

typedef struct {
    const conf_t *conf;   /* outlives the API */
    silencer_t *silencer; /* NULL: the silence routes answer 503 */
    declog_t *declog;     /* NULL: no alerts are listed */
    rules_live_t *live;   /* silencedBy of listed alerts */
    /* The routing generations (receivers, groups, config.original), with
     * views made by api_v2_view_new; NULL: conf's, compiled here, fixed. */
    struct routing_live *routing;
} api_v2_opts_t;

/* What the API shows of one config's routing (config.original, the root
 * receiver), for routing_live_publish; NULL on OOM. Any thread. */
void *api_v2_view_new(const conf_t *conf);
void api_v2_view_free(void *view); /* NULL-safe */

api_v2_t *api_v2_new(const api_v2_opts_t *o);
void api_v2_destroy(api_v2_t *a); /* after the HTTP server stopped; NULL-safe */
/* Registers the routes (ops_stages_t.add_routes). */
qerr_t api_v2_routes(void *api, http_server_t *s);

/* Alertmanager's orders, as strcmp answers (pure): label sets sorted by
 * name compared as model.LabelSet.Before (fewer labels first, then the
 * first name only one has, then values), and alerts within a group as
 * types.AlertSlice (job, then instance, an alert with the label first,
 * then their labels). GET /api/v2/alerts/groups sorts by them. */
int api_labels_cmp(const label_t *a, uint32_t na, const label_t *b, uint32_t nb);
int api_group_alert_cmp(const label_t *a, uint32_t na, const label_t *b, uint32_t nb);

/* `quell explain --fingerprint FP`: asks a running quell (http.listen of
 * `conf`, or `url`) for its recent decisions on FP and prints them.
 * Returns the process exit code. */
int api_explain_fingerprint(const conf_t *conf, const char *url, const char *fp);

#endif
