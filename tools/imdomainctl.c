/* imdomainctl: runs imdomaind's ad-hoc commands over the local control socket, for shells and
 * scripts: fills each stage's form from var=value arguments (prompting on a terminal for a
 * missing required field) and advances until the command completes. */
#include "component/ctl_proto.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strophe.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define NS_COMMANDS "http://jabber.org/protocol/commands"
#define NS_DATA "jabber:x:data"
#define NS_ITEMS "http://jabber.org/protocol/disco#items"
/* Results as XEP-0004 forms with their columns, beside the one form people's clients show. */
#define NS_IMD_RESULTS "urn:imdomaind:results"
#define NS_STANZAS "urn:ietf:params:xml:ns:xmpp-stanzas"
#define MAX_ROUNDS 64 /* stages of one command */
#define MAX_FORMS 16  /* result forms of one answer */
#define MAX_ARGS 256

#ifndef RUNSTATEDIR
#define RUNSTATEDIR "/run"
#endif

struct arg {
    char *var, *value;
    int used;
};

struct opts {
    const char *socket;
    const char *lang;
    int json;
};

static xmpp_ctx_t *ctx;
static int sock = -1;
static unsigned next_id = 1;

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "imdomainctl: ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(1);
}

static void usage(FILE *out)
{
    fprintf(out, "usage: imdomainctl [-s socket] [-l lang] [--json] list\n"
                 "       imdomainctl [-s socket] [-l lang] [--json] run NODE [var=value ...]\n");
}

static void connect_socket(const char *path)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};

    if (strlen(path) >= sizeof(sa.sun_path))
        die("socket path too long: %s", path);
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
    sock = socket(AF_UNIX, SOCK_STREAM, 0);
    if (sock < 0 || connect(sock, (struct sockaddr *)&sa, sizeof(sa)) < 0)
        die("cannot connect to %s: %s (is imdomaind running?)", path, strerror(errno));
}

static int write_all(const void *buf, size_t len)
{
    const char *p = buf;
    while (len > 0) {
        ssize_t n = write(sock, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static int read_all(void *buf, size_t len)
{
    char *p = buf;
    while (len > 0) {
        ssize_t n = read(sock, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Sends `iq` (consumed) and returns the answer, owned by the caller. */
static xmpp_stanza_t *roundtrip(xmpp_stanza_t *iq)
{
    char *text = NULL;
    size_t len = 0;
    unsigned char hdr[CTL_HEADER_LEN];

    if (xmpp_stanza_to_text(iq, &text, &len) != XMPP_EOK)
        die("cannot serialise the request");
    xmpp_stanza_release(iq);
    ctl_put_len(hdr, (uint32_t)len);
    int sent = write_all(hdr, sizeof(hdr)) == 0 && write_all(text, len) == 0;
    int write_errno = errno;
    xmpp_free(ctx, text);
    /* A refused peer is told why and disconnected, maybe before our request is written: read
     * the answer that is there before giving up on the write. */
    if (read_all(hdr, sizeof(hdr)) < 0) {
        if (!sent)
            die("cannot send to imdomaind: %s", strerror(write_errno));
        die("imdomaind closed the control connection");
    }
    uint32_t alen = ctl_get_len(hdr);
    if (alen > CTL_FRAME_MAX)
        die("answer too large (%u bytes)", alen);
    char *answer = malloc(alen + 1);
    if (answer == NULL || read_all(answer, alen) < 0)
        die("cannot read the answer");
    answer[alen] = '\0';
    xmpp_stanza_t *reply = xmpp_stanza_new_from_string(ctx, answer);
    free(answer);
    if (reply == NULL)
        die("imdomaind sent an answer that is not XML");
    return reply;
}

static xmpp_stanza_t *child(xmpp_stanza_t *st, const char *name, const char *ns)
{
    for (xmpp_stanza_t *c = xmpp_stanza_get_children(st); c; c = xmpp_stanza_get_next(c)) {
        if (!xmpp_stanza_is_tag(c))
            continue;
        if (name && strcmp(xmpp_stanza_get_name(c), name) != 0)
            continue;
        if (ns && (xmpp_stanza_get_ns(c) == NULL || strcmp(xmpp_stanza_get_ns(c), ns) != 0))
            continue;
        return c;
    }
    return NULL;
}

static xmpp_stanza_t *new_iq(const char *type, const char *lang)
{
    char id[16];
    snprintf(id, sizeof(id), "c%u", next_id++);
    xmpp_stanza_t *iq = xmpp_iq_new(ctx, type, id);
    if (lang)
        xmpp_stanza_set_attribute(iq, "xml:lang", lang);
    return iq;
}

static xmpp_stanza_t *add(xmpp_stanza_t *parent, const char *name, const char *ns)
{
    xmpp_stanza_t *c = xmpp_stanza_new(ctx);
    xmpp_stanza_set_name(c, name);
    if (ns)
        xmpp_stanza_set_ns(c, ns);
    xmpp_stanza_add_child_ex(parent, c, 0);
    return c;
}

static void add_text(xmpp_stanza_t *parent, const char *name, const char *text)
{
    xmpp_stanza_t *el = add(parent, name, NULL);
    xmpp_stanza_t *t = xmpp_stanza_new(ctx);
    xmpp_stanza_set_text(t, text);
    xmpp_stanza_add_child_ex(el, t, 0);
}

/* Returns the text of <name> under `st` (caller frees) or NULL. */
static char *text_of(xmpp_stanza_t *st, const char *name)
{
    xmpp_stanza_t *c = child(st, name, NULL);
    return c ? xmpp_stanza_get_text(c) : NULL;
}

static void json_str(const char *s)
{
    putchar('"');
    for (; s && *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\')
            printf("\\%c", ch);
        else if (ch == '\n')
            printf("\\n");
        else if (ch == '\t')
            printf("\\t");
        else if (ch < 0x20)
            printf("\\u%04x", ch);
        else
            putchar(ch);
    }
    putchar('"');
}

/* Reports a stanza error and returns the exit status for it. */
static int report_error(xmpp_stanza_t *reply, const struct opts *o)
{
    xmpp_stanza_t *err = child(reply, "error", NULL);
    const char *cond = "undefined-condition";
    char *text = NULL;
    const char *extra = NULL;

    for (xmpp_stanza_t *c = err ? xmpp_stanza_get_children(err) : NULL; c;
         c = xmpp_stanza_get_next(c)) {
        if (!xmpp_stanza_is_tag(c))
            continue;
        const char *ns = xmpp_stanza_get_ns(c);
        if (strcmp(xmpp_stanza_get_name(c), "text") == 0)
            text = xmpp_stanza_get_text(c);
        else if (ns && strcmp(ns, NS_STANZAS) == 0)
            cond = xmpp_stanza_get_name(c);
        else if (ns && strcmp(ns, NS_COMMANDS) == 0)
            extra = xmpp_stanza_get_name(c);
    }
    if (o->json) {
        printf("{\"status\":\"error\",\"condition\":");
        json_str(cond);
        if (extra) {
            printf(",\"command_condition\":");
            json_str(extra);
        }
        printf(",\"text\":");
        json_str(text ? text : "");
        printf("}\n");
    } else {
        fprintf(stderr, "imdomainctl: error: %s%s%s%s%s\n", cond, extra ? " (" : "",
                extra ? extra : "", extra ? ")" : "", "");
        if (text)
            fprintf(stderr, "imdomainctl: %s\n", text);
    }
    if (text)
        xmpp_free(ctx, text);
    return strcmp(cond, "forbidden") == 0 ? 3 : 2;
}

static int cmd_list(const struct opts *o)
{
    xmpp_stanza_t *iq = new_iq("get", o->lang);
    xmpp_stanza_t *q = add(iq, "query", NS_ITEMS);
    xmpp_stanza_set_attribute(q, "node", NS_COMMANDS);
    xmpp_stanza_t *reply = roundtrip(iq);

    if (strcmp(xmpp_stanza_get_type(reply), "error") == 0) {
        int rc = report_error(reply, o);
        xmpp_stanza_release(reply);
        return rc;
    }
    q = child(reply, "query", NS_ITEMS);
    if (o->json)
        printf("[");
    int first = 1;
    for (xmpp_stanza_t *it = q ? xmpp_stanza_get_children(q) : NULL; it;
         it = xmpp_stanza_get_next(it)) {
        if (!xmpp_stanza_is_tag(it) || strcmp(xmpp_stanza_get_name(it), "item") != 0)
            continue;
        const char *node = xmpp_stanza_get_attribute(it, "node");
        const char *name = xmpp_stanza_get_attribute(it, "name");
        if (o->json) {
            printf("%s{\"node\":", first ? "" : ",");
            json_str(node);
            printf(",\"name\":");
            json_str(name ? name : "");
            printf("}");
        } else {
            printf("%-44s %s\n", node ? node : "", name ? name : "");
        }
        first = 0;
    }
    if (o->json)
        printf("]\n");
    xmpp_stanza_release(reply);
    return 0;
}

static void print_field_text(xmpp_stanza_t *f)
{
    const char *label = xmpp_stanza_get_attribute(f, "label");
    const char *var = xmpp_stanza_get_attribute(f, "var");
    const char *type = xmpp_stanza_get_attribute(f, "type");
    int n = 0;

    if (type && strcmp(type, "hidden") == 0)
        return;
    printf("%s:", label ? label : var ? var : "");
    for (xmpp_stanza_t *v = xmpp_stanza_get_children(f); v; v = xmpp_stanza_get_next(v)) {
        if (!xmpp_stanza_is_tag(v) || strcmp(xmpp_stanza_get_name(v), "value") != 0)
            continue;
        char *t = xmpp_stanza_get_text(v);
        printf("%s%s", n++ ? (type && strstr(type, "multi") ? "\n  " : ", ") : " ", t ? t : "");
        if (t)
            xmpp_free(ctx, t);
    }
    putchar('\n');
}

static void print_cells_text(xmpp_stanza_t *row, const char *elname)
{
    int first = 1;
    for (xmpp_stanza_t *f = xmpp_stanza_get_children(row); f; f = xmpp_stanza_get_next(f)) {
        if (!xmpp_stanza_is_tag(f) || strcmp(xmpp_stanza_get_name(f), "field") != 0)
            continue;
        const char *label = xmpp_stanza_get_attribute(f, "label");
        char *t = NULL;
        if (elname == NULL) {
            t = text_of(f, "value");
        }
        printf("%s%s", first ? "" : "\t",
               elname ? (label ? label : xmpp_stanza_get_attribute(f, "var")) : (t ? t : ""));
        if (t)
            xmpp_free(ctx, t);
        first = 0;
    }
    putchar('\n');
}

static void print_form_text(xmpp_stanza_t *x)
{
    char *title = text_of(x, "title");
    if (title) {
        printf("== %s ==\n", title);
        xmpp_free(ctx, title);
    }
    for (xmpp_stanza_t *c = xmpp_stanza_get_children(x); c; c = xmpp_stanza_get_next(c)) {
        if (!xmpp_stanza_is_tag(c))
            continue;
        const char *name = xmpp_stanza_get_name(c);
        if (strcmp(name, "instructions") == 0) {
            char *t = xmpp_stanza_get_text(c);
            printf("%s\n", t ? t : "");
            if (t)
                xmpp_free(ctx, t);
        } else if (strcmp(name, "field") == 0) {
            print_field_text(c);
        } else if (strcmp(name, "reported") == 0) {
            print_cells_text(c, "label");
        } else if (strcmp(name, "item") == 0) {
            print_cells_text(c, NULL);
        }
    }
}

static void json_values(xmpp_stanza_t *f)
{
    int n = 0;
    printf("[");
    for (xmpp_stanza_t *v = xmpp_stanza_get_children(f); v; v = xmpp_stanza_get_next(v)) {
        if (!xmpp_stanza_is_tag(v) || strcmp(xmpp_stanza_get_name(v), "value") != 0)
            continue;
        char *t = xmpp_stanza_get_text(v);
        printf("%s", n++ ? "," : "");
        json_str(t ? t : "");
        if (t)
            xmpp_free(ctx, t);
    }
    printf("]");
}

static void print_form_json(xmpp_stanza_t *x)
{
    char *title = text_of(x, "title");
    int nf = 0, nr = 0, nc = 0;

    printf("{\"type\":");
    json_str(xmpp_stanza_get_type(x));
    printf(",\"title\":");
    json_str(title ? title : "");
    if (title)
        xmpp_free(ctx, title);
    printf(",\"fields\":{");
    for (xmpp_stanza_t *c = xmpp_stanza_get_children(x); c; c = xmpp_stanza_get_next(c)) {
        if (!xmpp_stanza_is_tag(c) || strcmp(xmpp_stanza_get_name(c), "field") != 0)
            continue;
        printf("%s", nf++ ? "," : "");
        json_str(xmpp_stanza_get_attribute(c, "var"));
        printf(":");
        json_values(c);
    }
    printf("},\"columns\":[");
    xmpp_stanza_t *rep = child(x, "reported", NULL);
    for (xmpp_stanza_t *c = rep ? xmpp_stanza_get_children(rep) : NULL; c;
         c = xmpp_stanza_get_next(c)) {
        if (!xmpp_stanza_is_tag(c))
            continue;
        printf("%s{\"var\":", nc++ ? "," : "");
        json_str(xmpp_stanza_get_attribute(c, "var"));
        printf(",\"label\":");
        json_str(xmpp_stanza_get_attribute(c, "label"));
        printf("}");
    }
    printf("],\"rows\":[");
    for (xmpp_stanza_t *it = xmpp_stanza_get_children(x); it; it = xmpp_stanza_get_next(it)) {
        if (!xmpp_stanza_is_tag(it) || strcmp(xmpp_stanza_get_name(it), "item") != 0)
            continue;
        printf("%s{", nr++ ? "," : "");
        int n = 0;
        for (xmpp_stanza_t *f = xmpp_stanza_get_children(it); f; f = xmpp_stanza_get_next(f)) {
            if (!xmpp_stanza_is_tag(f))
                continue;
            char *t = text_of(f, "value");
            printf("%s", n++ ? "," : "");
            json_str(xmpp_stanza_get_attribute(f, "var"));
            printf(":");
            json_str(t ? t : "");
            if (t)
                xmpp_free(ctx, t);
        }
        printf("}");
    }
    printf("]}");
}

/* A result table longer than a page arrives as executing replies whose forms are results,
 * one page each. Scripts want the whole table: the first page's forms are kept and the rows of
 * every later page appended to them, then printed in place of the last page's forms. */
struct pages {
    xmpp_stanza_t *forms[MAX_FORMS];
    int n;
};

static int is_page(xmpp_stanza_t *cmd)
{
    xmpp_stanza_t *x = child(cmd, "x", NS_DATA);
    const char *type = x ? xmpp_stanza_get_type(x) : NULL;

    return type && strcmp(type, "result") == 0;
}

/* Where the result forms are: the payload for programs when there is one (the form beside it
 * is for people: tables as lines of text), else the command itself. */
static xmpp_stanza_t *results_of(xmpp_stanza_t *cmd)
{
    xmpp_stanza_t *data = child(cmd, "results", NS_IMD_RESULTS);

    return data ? data : cmd;
}

static void pages_add(struct pages *p, xmpp_stanza_t *cmd)
{
    int i = 0;

    for (xmpp_stanza_t *x = xmpp_stanza_get_children(results_of(cmd)); x && i < MAX_FORMS;
         x = xmpp_stanza_get_next(x)) {
        if (!xmpp_stanza_is_tag(x) || strcmp(xmpp_stanza_get_name(x), "x") != 0)
            continue;
        if (i == p->n) { /* first seen: keep the whole form */
            p->forms[p->n++] = xmpp_stanza_copy(x);
        } else {
            for (xmpp_stanza_t *it = xmpp_stanza_get_children(x); it; it = xmpp_stanza_get_next(it))
                if (xmpp_stanza_is_tag(it) && strcmp(xmpp_stanza_get_name(it), "item") == 0)
                    xmpp_stanza_add_child_ex(p->forms[i], xmpp_stanza_copy(it), 0);
        }
        i++;
    }
}

static void pages_clear(struct pages *p)
{
    for (int i = 0; i < p->n; i++)
        xmpp_stanza_release(p->forms[i]);
    p->n = 0;
}

/* Prints a finished command's notes and forms (the pages' forms, when it was paged); returns 1
 * if a note is an error. */
static int print_outcome(xmpp_stanza_t *cmd, const struct opts *o, const struct pages *pages)
{
    int failed = 0, n = 0;

    if (o->json) {
        printf("{\"status\":");
        json_str(xmpp_stanza_get_attribute(cmd, "status"));
        printf(",\"node\":");
        json_str(xmpp_stanza_get_attribute(cmd, "node"));
        printf(",\"notes\":[");
    }
    for (xmpp_stanza_t *c = xmpp_stanza_get_children(cmd); c; c = xmpp_stanza_get_next(c)) {
        if (!xmpp_stanza_is_tag(c) || strcmp(xmpp_stanza_get_name(c), "note") != 0)
            continue;
        const char *type = xmpp_stanza_get_attribute(c, "type");
        char *t = xmpp_stanza_get_text(c);
        if (type && strcmp(type, "error") == 0)
            failed = 1;
        if (o->json) {
            printf("%s{\"type\":", n++ ? "," : "");
            json_str(type ? type : "info");
            printf(",\"text\":");
            json_str(t ? t : "");
            printf("}");
        } else {
            fprintf(type && strcmp(type, "info") != 0 ? stderr : stdout, "%s: %s\n",
                    type ? type : "info", t ? t : "");
        }
        if (t)
            xmpp_free(ctx, t);
    }
    if (o->json)
        printf("],\"forms\":[");
    n = 0;
    for (xmpp_stanza_t *c = xmpp_stanza_get_children(results_of(cmd)); c;
         c = xmpp_stanza_get_next(c)) {
        if (!xmpp_stanza_is_tag(c) || strcmp(xmpp_stanza_get_name(c), "x") != 0)
            continue;
        xmpp_stanza_t *x = n < pages->n ? pages->forms[n] : c;
        if (o->json) {
            printf("%s", n ? "," : "");
            print_form_json(x);
        } else {
            print_form_text(x);
        }
        n++;
    }
    if (o->json)
        printf("]}\n");
    return failed;
}

static char *prompt_for(const char *var, const char *label)
{
    char buf[4096];

    fprintf(stderr, "%s%s%s%s: ", label ? label : var, label ? " [" : "", label ? var : "",
            label ? "]" : "");
    if (fgets(buf, sizeof(buf), stdin) == NULL)
        return NULL;
    buf[strcspn(buf, "\n")] = '\0';
    return strdup(buf);
}

/* Builds the submitted form for `form` from the arguments. Returns NULL and names the field
 * when a required one has no value and no terminal to ask on. */
static xmpp_stanza_t *fill_form(xmpp_stanza_t *form, struct arg *args, int nargs,
                                const char **missing)
{
    xmpp_stanza_t *x = xmpp_stanza_new(ctx);
    xmpp_stanza_set_name(x, "x");
    xmpp_stanza_set_ns(x, NS_DATA);
    xmpp_stanza_set_type(x, "submit");
    for (xmpp_stanza_t *f = xmpp_stanza_get_children(form); f; f = xmpp_stanza_get_next(f)) {
        if (!xmpp_stanza_is_tag(f) || strcmp(xmpp_stanza_get_name(f), "field") != 0)
            continue;
        const char *var = xmpp_stanza_get_attribute(f, "var");
        const char *type = xmpp_stanza_get_attribute(f, "type");
        if (var == NULL || (type && strcmp(type, "fixed") == 0))
            continue;
        xmpp_stanza_t *out = add(x, "field", NULL);
        xmpp_stanza_set_attribute(out, "var", var);
        int given = 0;
        for (int i = 0; i < nargs; i++) {
            if (!args[i].used && strcmp(args[i].var, var) == 0) {
                add_text(out, "value", args[i].value);
                args[i].used = 1;
                given++;
                if (!(type && strstr(type, "multi")))
                    break;
            }
        }
        if (given)
            continue;
        int has_default = 0;
        for (xmpp_stanza_t *v = xmpp_stanza_get_children(f); v; v = xmpp_stanza_get_next(v)) {
            if (!xmpp_stanza_is_tag(v) || strcmp(xmpp_stanza_get_name(v), "value") != 0)
                continue;
            char *t = xmpp_stanza_get_text(v);
            add_text(out, "value", t ? t : "");
            if (t)
                xmpp_free(ctx, t);
            has_default = 1;
        }
        if (has_default || child(f, "required", NULL) == NULL)
            continue;
        char *answer = isatty(STDIN_FILENO) && isatty(STDERR_FILENO)
                           ? prompt_for(var, xmpp_stanza_get_attribute(f, "label"))
                           : NULL;
        if (answer == NULL) {
            *missing = var;
            xmpp_stanza_release(x);
            return NULL;
        }
        add_text(out, "value", answer);
        free(answer);
    }
    return x;
}

/* An input stage that came back with an error note: a submitted value was refused (the daemon
 * keeps the session for clients that let a person correct it). Reports it like a bad-payload
 * error; returns 1 then. */
static int rejected(xmpp_stanza_t *cmd, const struct opts *o)
{
    for (xmpp_stanza_t *c = xmpp_stanza_get_children(cmd); c; c = xmpp_stanza_get_next(c)) {
        const char *type = xmpp_stanza_is_tag(c) && strcmp(xmpp_stanza_get_name(c), "note") == 0
                               ? xmpp_stanza_get_attribute(c, "type")
                               : NULL;
        if (type == NULL || strcmp(type, "error") != 0)
            continue;
        char *t = xmpp_stanza_get_text(c);
        if (o->json) {
            printf("{\"status\":\"error\",\"condition\":\"bad-request\","
                   "\"command_condition\":\"bad-payload\",\"text\":");
            json_str(t ? t : "");
            printf("}\n");
        } else {
            fprintf(stderr, "imdomainctl: error: bad-request (bad-payload)\nimdomainctl: %s\n",
                    t ? t : "");
        }
        if (t)
            xmpp_free(ctx, t);
        return 1;
    }
    return 0;
}

static const char *choose_action(xmpp_stanza_t *cmd)
{
    xmpp_stanza_t *actions = child(cmd, "actions", NULL);

    if (actions == NULL)
        return "execute";
    const char *def = xmpp_stanza_get_attribute(actions, "execute");
    if (def)
        return def;
    if (child(actions, "complete", NULL))
        return "complete";
    if (child(actions, "next", NULL))
        return "next";
    return "execute";
}

static xmpp_stanza_t *command_iq(const struct opts *o, const char *node, const char *sid,
                                 const char *action)
{
    xmpp_stanza_t *iq = new_iq("set", o->lang);
    xmpp_stanza_t *cmd = add(iq, "command", NS_COMMANDS);
    xmpp_stanza_set_attribute(cmd, "node", node);
    if (sid)
        xmpp_stanza_set_attribute(cmd, "sessionid", sid);
    xmpp_stanza_set_attribute(cmd, "action", action);
    return iq;
}

/* Prints the outcome of a finished run; returns the exit status. */
static int finished(xmpp_stanza_t *cmd, const char *status, const struct opts *o,
                    struct pages *pages, struct arg *args, int nargs)
{
    int rc;

    /* After pages, the completion repeats the last page, whose rows are carried already. */
    rc = print_outcome(cmd, o, pages) || strcmp(status, "completed") != 0 ? 1 : 0;
    pages_clear(pages);
    for (int i = 0; i < nargs; i++)
        if (!args[i].used)
            fprintf(stderr, "imdomainctl: warning: argument %s was not used\n", args[i].var);
    return rc;
}

static int cmd_run(const struct opts *o, const char *node, struct arg *args, int nargs)
{
    xmpp_stanza_t *reply = roundtrip(command_iq(o, node, NULL, "execute"));
    struct pages pages = {0};

    /* Pages of a result table do not count as stages. */
    for (int round = 0; round < MAX_ROUNDS;) {
        if (strcmp(xmpp_stanza_get_type(reply), "error") == 0) {
            int rc = report_error(reply, o);
            pages_clear(&pages);
            xmpp_stanza_release(reply);
            return rc;
        }
        xmpp_stanza_t *cmd = child(reply, "command", NS_COMMANDS);
        const char *status = cmd ? xmpp_stanza_get_attribute(cmd, "status") : NULL;
        if (cmd == NULL || status == NULL)
            die("imdomaind answered without a command status");
        if (strcmp(status, "executing") != 0) {
            int rc = finished(cmd, status, o, &pages, args, nargs);
            xmpp_stanza_release(reply);
            return rc;
        }
        char *sid = strdup(xmpp_stanza_get_attribute(cmd, "sessionid"));
        if (is_page(cmd)) {
            xmpp_stanza_t *iq = command_iq(o, node, sid, choose_action(cmd));
            pages_add(&pages, cmd);
            xmpp_stanza_release(reply);
            free(sid);
            reply = roundtrip(iq);
            continue;
        }
        round++;
        if (rejected(cmd, o)) {
            /* The stage came back with a value refused: filling it again the same way would
             * loop. Say why, end the session, exit as for a refused request. */
            xmpp_stanza_release(roundtrip(command_iq(o, node, sid, "cancel")));
            free(sid);
            pages_clear(&pages);
            xmpp_stanza_release(reply);
            return 2;
        }
        xmpp_stanza_t *form = child(cmd, "x", NS_DATA);
        const char *missing = NULL;
        xmpp_stanza_t *filled = form ? fill_form(form, args, nargs, &missing) : NULL;
        if (form && filled == NULL) {
            fprintf(stderr,
                    "imdomainctl: missing value for required field '%s' "
                    "(pass %s=VALUE)\n",
                    missing, missing);
            xmpp_stanza_release(roundtrip(command_iq(o, node, sid, "cancel")));
            free(sid);
            xmpp_stanza_release(reply);
            return 1;
        }
        xmpp_stanza_t *iq = command_iq(o, node, sid, choose_action(cmd));
        if (filled)
            xmpp_stanza_add_child_ex(child(iq, "command", NULL), filled, 0);
        free(sid);
        xmpp_stanza_release(reply);
        reply = roundtrip(iq);
    }
    xmpp_stanza_release(reply);
    die("command did not complete after %d stages", MAX_ROUNDS);
}

static int parse_args(int argc, char **argv, struct arg *args)
{
    int n = 0;
    for (int i = 0; i < argc; i++) {
        char *eq = strchr(argv[i], '=');
        if (eq == NULL || eq == argv[i])
            die("argument '%s' is not var=value", argv[i]);
        if (n == MAX_ARGS)
            die("too many arguments");
        args[n].var = strndup(argv[i], (size_t)(eq - argv[i]));
        args[n].value = eq + 1;
        args[n].used = 0;
        n++;
    }
    return n;
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {"socket", required_argument, NULL, 's'},
        {"lang", required_argument, NULL, 'l'},
        {NULL, 0, NULL, 0},
    };
    struct opts o = {getenv("IMDOMAINCTL_SOCKET"), NULL, 0};
    struct arg args[MAX_ARGS];
    int ch, rc;

    if (o.socket == NULL)
        o.socket = RUNSTATEDIR "/imdomaind/control.sock";
    while ((ch = getopt_long(argc, argv, "+s:l:jh", longopts, NULL)) != -1) {
        switch (ch) {
        case 's':
            o.socket = optarg;
            break;
        case 'l':
            o.lang = optarg;
            break;
        case 'j':
            o.json = 1;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 1;
        }
    }
    argc -= optind;
    argv += optind;
    if (argc < 1 || (strcmp(argv[0], "list") != 0 && strcmp(argv[0], "run") != 0) ||
        (strcmp(argv[0], "run") == 0 && argc < 2)) {
        usage(stderr);
        return 1;
    }
    /* A closed connection shows as a failed write, not as death by SIGPIPE. */
    signal(SIGPIPE, SIG_IGN);
    xmpp_initialize();
    ctx = xmpp_ctx_new(NULL, NULL);
    connect_socket(o.socket);
    if (strcmp(argv[0], "list") == 0) {
        rc = cmd_list(&o);
    } else {
        int nargs = parse_args(argc - 2, argv + 2, args);
        rc = cmd_run(&o, argv[1], args, nargs);
        for (int i = 0; i < nargs; i++)
            free(args[i].var);
    }
    close(sock);
    xmpp_ctx_free(ctx);
    xmpp_shutdown();
    return rc;
}
