/* How a directory entry becomes a user: the userid attribute, the URI attribute with a "sip:"
 * prefix stripped (Active Directory's msRTCSIP-PrimaryUserAddress), the optional node, checked
 * by the same rules as users/import. Pure functions, safe on the thread pool. */
#ifndef IMD_DIR_MAP_H
#define IMD_DIR_MAP_H

#include "component/engine/directory.h"
#include "store/store_settings.h"

/* One entry mapped. Strings malloc'd (dir_mapped_clear()). */
struct dir_mapped {
    char *userid;    /* trimmed; "" when the entry has no userid attribute */
    char *uri;       /* trimmed, "sip:" stripped; "" when the entry has none */
    char *node;      /* NULL: no node attribute on the entry (the assignment is kept) */
    char *reason_en; /* NULL when the entry may be applied; else why it is rejected */
    char *reason_ko;
};

/* The directory URI a raw attribute value gives (malloc'd): blanks trimmed, and a leading
 * "sip:" (any case) removed. */
char *dir_map_uri(const char *raw);

/* Maps `e` (borrowed). `userid_attr` names the attribute in a rejection reason. */
void dir_map_entry(const struct dir_entry *e, const char *userid_attr, struct dir_mapped *out);
void dir_mapped_clear(struct dir_mapped *m);

/* The IM address a user gets under `scheme` (directory-uri: the URI when it has one; else
 * userid@default_domain), malloc'd. As store_user_upsert() gives a new user. */
char *dir_map_im_address(enum store_im_scheme scheme, const char *default_domain,
                         const char *userid, const char *uri);

#endif
