/* Placeholder until the preconditions land. */
#include "component/precond.h"

char *precond_domain_change(struct app *app, const char *lang)
{
    (void)app;
    (void)lang;
    return NULL;
}
