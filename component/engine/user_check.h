/* The rules a user must meet to be provisioned, shared by users/import and the directory sync:
 * a userid that fits an IM address's local part, a directory URI of the form name@domain with a
 * valid domain. Pure functions, safe on any thread. */
#ifndef IMD_USER_CHECK_H
#define IMD_USER_CHECK_H

#include <stdbool.h>

#define USERID_MAX 255 /* bytes of a userid */
#define URI_MAX 1024   /* bytes of a directory URI */

/* True when `s` holds no byte an XMPP localpart cannot hold (RFC 7622 3.3.1), space or a
 * control character. */
bool user_check_localpart(const char *s);

/* NULL when `userid` is fine, else the reason in `lang` (malloc'd). */
char *user_check_userid(const char *userid, const char *lang);

/* NULL when `uri` is fine (an empty URI is: the user has none), else the reason in `lang`
 * (malloc'd). */
char *user_check_uri(const char *uri, const char *lang);

#endif
