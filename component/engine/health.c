/* The daemon's runtime health (see health.h). */
#include "component/engine/health.h"

#include <stdio.h>
#include <string.h>

void health_init(struct health *h, time_t now)
{
    memset(h, 0, sizeof(*h));
    h->started_at = now;
    h->link = HEALTH_LINK_CONNECTING;
}

void health_link_up(struct health *h, time_t now)
{
    h->link = HEALTH_LINK_UP;
    h->link_since = now;
    h->ups++;
}

void health_link_lost(struct health *h, time_t now, const char *reason)
{
    /* Losses before the first success (a refused or closed port) keep "connecting": the link
     * has never been up, and that is what status should say. */
    if (h->ups > 0 || h->link == HEALTH_LINK_DOWN)
        h->link = HEALTH_LINK_DOWN;
    h->link_since = now;
    h->losses++;
    snprintf(h->last_lost, sizeof(h->last_lost), "%s", reason ? reason : "unknown reason");
}

unsigned health_reconnects(const struct health *h)
{
    return h->ups > 0 ? h->ups - 1 : 0;
}

size_t health_queued(const struct health *h)
{
    return h->queued ? h->queued(h->queued_ud) : 0;
}

const char *health_link_name(enum health_link link)
{
    switch (link) {
    case HEALTH_LINK_UP:
        return "connected";
    case HEALTH_LINK_DOWN:
        return "down";
    case HEALTH_LINK_CONNECTING:
        break;
    }
    return "connecting";
}

void health_describe_link(const struct health *h, char *buf, size_t size)
{
    char when[32] = "";
    struct tm tm;

    if (h->link_since > 0 && gmtime_r(&h->link_since, &tm) != NULL)
        strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
    switch (h->link) {
    case HEALTH_LINK_UP:
        snprintf(buf, size, "router connected since %s (%u reconnects)", when,
                 health_reconnects(h));
        break;
    case HEALTH_LINK_DOWN:
        snprintf(buf, size, "router link lost at %s (%s); reconnecting", when, h->last_lost);
        break;
    case HEALTH_LINK_CONNECTING:
        if (h->losses > 0)
            snprintf(buf, size, "connecting to the router (%u attempts failed, last: %s)",
                     h->losses, h->last_lost);
        else
            snprintf(buf, size, "connecting to the router");
        break;
    }
}
