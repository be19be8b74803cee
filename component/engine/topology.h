/* The guide's rules on cluster topology: node names (FQDN, or hostname only when every node
 * shares one DNS domain), releases (multiple IM domains need 10.0 or later everywhere),
 * redundancy groups of one or two nodes with every node in exactly one, and the publisher's DNS
 * domain as the default cucm_domain_sip_proxy. Pure checks plus a few reads of the store. */
#ifndef IMD_TOPOLOGY_H
#define IMD_TOPOLOGY_H

#include <stdbool.h>
#include <stddef.h>

#include "component/app.h"
#include "store/store_topo.h"

#define TOPOLOGY_NAME_MAX 255     /* a node name, as a DNS name */
#define TOPOLOGY_RELEASE_MAX 32   /* "15.0.1.10000-1" */
#define TOPOLOGY_MULTI_DOMAIN_MAJOR 10 /* the first release allowing several IM domains */

/* Why a node name breaks the DNS syntax (letters, digits, hyphen, dots between labels of 1-63
 * characters, no label starting or ending with a hyphen), in `lang`; NULL when it is fine.
 * Static text. */
const char *topology_name_problem(const char *name, const char *lang);

/* The DNS domain of a node name: what follows the first dot, or NULL for a hostname only.
 * Borrowed from `name`. */
const char *topology_dns_domain(const char *name);

/* The guide: if any node is named by hostname only, all nodes must share one DNS domain. Given
 * every node name of the cluster (after a change), returns NULL when that holds, else a
 * sentence (caller frees) naming the hostname-only nodes and the DNS domains seen. */
char *topology_names_problem(const char *const *names, size_t n, const char *lang);

/* "10.0", "9.1.1", "15.0.1.10000-1": 0 and the major/minor numbers, or -1 when it does not
 * start with digits ("" is unknown: -1). */
int topology_release_parse(const char *release, int *major, int *minor);
/* Why a release string is refused (static text), or NULL ("" is accepted: unknown). */
const char *topology_release_problem(const char *release, const char *lang);
/* True when `release` is known and at least major.minor. */
bool topology_release_at_least(const char *release, int major, int minor);

/* Multi-domain operations: NULL when every node runs 10.0 or later, else a sentence (caller
 * frees) naming each node below it (and those whose release is unknown). A store failure is a
 * refusal too (it says so). */
char *topology_multi_domain_refusal(struct app *app, const char *lang);

/* The default for cucm_domain_sip_proxy: the publisher's DNS domain (malloc'd), or NULL when
 * there is no publisher or it is named by hostname only. */
char *topology_sip_proxy_default(struct app *app);

/* Once a publisher exists, the guide's default for cucm_domain_sip_proxy is its DNS domain:
 * when the setting is empty and the publisher has a DNS domain, stores it (in the caller's
 * transaction) and sets *adopted to it (malloc'd; NULL when nothing changed). */
enum store_rc topology_sip_proxy_adopt(struct app *app, char **adopted);

/* The guide's release rule for a node change: NULL when `release` (the node's new release) is
 * unknown or 10.0 or later, or when the cluster hosts at most one IM domain (the local domains
 * and the default, hosted.h); else why `node` may not go to it, naming the domains, in `lang`
 * (caller frees). A store failure is a refusal too. */
char *topology_release_refusal(struct app *app, const char *node, const char *release,
                               const char *lang);

/* The finding the sync audit raises when users brought a domain in although a node is below
 * release 10.0: NULL while the cluster hosts at most one IM domain or every node runs 10.0 or
 * later; else a sentence in `lang` naming the domains' count and the nodes to upgrade (caller
 * frees). Shown by sync/audit, users/import and domains/list, and kept in the audit log. */
char *topology_release_finding(struct app *app, const char *lang);

/* After an audit that changed the local domain set (sync_report_local_changed): appends the
 * finding, if any, to the audit log as `actor` on `node` (SYNC_NODE or users/import). */
void topology_audit_release_finding(struct app *app, const char *actor, const char *node);

/* Why a node change hit STORE_CONFLICT, read from the store as committed: the name is taken
 * (`adding`), the cluster has another publisher (`role` publisher), or `group` holds two other
 * nodes. `node` is the node's name. In `lang`, caller frees. */
char *topology_conflict_cause(struct app *app, const char *node, bool adding,
                              enum store_node_role role, const char *group, const char *lang);

/* Nodes in no redundancy group (every node must be in one), as "a, b" (caller frees), or NULL
 * when there are none. */
char *topology_ungrouped_nodes(const struct store_node *nodes, size_t n);

/* Balances unassigned users across the nodes: each goes to the node with the fewest users
 * (ties by name). Runs inside the caller's transaction. *assigned gets how many were placed.
 * Returns STORE_OK, STORE_NOTFOUND when there is no node, or the store's error. */
enum store_rc topology_balance_users(struct app *app, int64_t *assigned);

#endif
