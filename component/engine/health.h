/* The daemon's runtime health, as status and the service manager see it: when it started, the
 * state of the router link (since when, how many reconnects, why it was last lost) and the
 * bytes waiting for the router. The daemon owns one and updates it from the link's events;
 * commands read it through app->health. */
#ifndef IMD_HEALTH_H
#define IMD_HEALTH_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define HEALTH_REASON_MAX 200 /* bytes kept of why the link was last lost */

enum health_link {
    HEALTH_LINK_CONNECTING, /* never up yet since start */
    HEALTH_LINK_UP,         /* authenticated: stanzas flow */
    HEALTH_LINK_DOWN,       /* lost; a reconnect is scheduled */
};

struct health {
    time_t started_at; /* wall clock at start */
    enum health_link link;
    time_t link_since;                 /* when the link reached its state (0 while connecting) */
    unsigned ups;                      /* times the link came up */
    unsigned losses;                   /* times it was lost */
    char last_lost[HEALTH_REASON_MAX]; /* "" when never lost */
    /* Bytes queued toward the router; NULL: always 0. */
    size_t (*queued)(const void *ud);
    const void *queued_ud;
};

/* Zeroes `h` and records the start time. */
void health_init(struct health *h, time_t now);
/* The link came up / was lost (`reason` may be NULL). */
void health_link_up(struct health *h, time_t now);
void health_link_lost(struct health *h, time_t now, const char *reason);
/* Reconnects: the times the link came up after the first. */
unsigned health_reconnects(const struct health *h);
size_t health_queued(const struct health *h);
/* "connecting", "connected", "down" (static). */
const char *health_link_name(enum health_link link);

/* One line for STATUS= and logs ("router connected since 2026-12-03T15:00:00Z", "router link
 * lost (reason); reconnecting", ...) into buf. */
void health_describe_link(const struct health *h, char *buf, size_t size);

#endif
