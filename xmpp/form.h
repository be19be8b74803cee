/* XEP-0004 data forms as a typed model: commands build forms and read checked values through
 * this API and never walk XML. The wire is in form_render.h (out) and form_parse.h (in); the
 * checks of a submission (XEP-0004 field types plus XEP-0122 datatypes and ranges, one reason
 * per field, in English or Korean) in form_check.h and form_error.h.
 * Ownership: a form_t owns everything in it; fields and strings read from it are borrowed
 * until form_free. */
#ifndef IMD_FORM_H
#define IMD_FORM_H

#include <stdbool.h>
#include <stddef.h>

#include "xmpp/i18n.h"

#define NS_DATA "jabber:x:data"
#define NS_XDATA_VALIDATE "http://jabber.org/protocol/xdata-validate"
/* FORM_TYPE of every input form of a command: FORM_TYPE_PREFIX + node. */
#define FORM_TYPE_PREFIX "urn:imdomaind:"

#define FORM_OTHER_SUFFIX "_other"
/* Fixed fields are sent with var FORM_FIXED_VAR_PREFIX1, 2...: XEP-0004 allows a var on them,
 * and poezio, which keys fields by var, shows only one fixed field without. */
#define FORM_FIXED_VAR_PREFIX "fixed-"

/* Limits on what a received form may hold; beyond them the form is refused as a whole. */
#define FORM_MAX_FIELDS 256
#define FORM_MAX_VALUES 20000       /* per field (a text-multi of user lines) */
#define FORM_MAX_TOTAL_VALUES 50000 /* over the whole form, table cells included */
#define FORM_MAX_VALUE_LEN 8192     /* bytes in one value */
#define FORM_MAX_OPTIONS 4096       /* per field */
#define FORM_MAX_COLUMNS 64
#define FORM_MAX_ROWS 20000

enum form_kind { FORM_FORM, FORM_SUBMIT, FORM_RESULT, FORM_CANCEL };

/* FIELD_NONE: a received field without a type attribute (text-single in a form of type
 * 'form'; in a submission its type comes from the form that was shown). */
enum field_type {
    FIELD_NONE,
    FIELD_BOOLEAN,
    FIELD_FIXED,
    FIELD_HIDDEN,
    FIELD_JID_MULTI,
    FIELD_JID_SINGLE,
    FIELD_LIST_MULTI,
    FIELD_LIST_SINGLE,
    FIELD_TEXT_MULTI,
    FIELD_TEXT_PRIVATE,
    FIELD_TEXT_SINGLE,
};

/* XEP-0122 datatypes we check. */
enum form_datatype {
    FORM_DT_STRING,   /* xs:string, the default */
    FORM_DT_INTEGER,  /* xs:integer, optionally within a range */
    FORM_DT_DATE,     /* xs:date: YYYY-MM-DD */
    FORM_DT_DATETIME, /* xs:dateTime in the XEP-0082 profile: YYYY-MM-DDThh:mm:ss[.s+](Z|+hh:mm) */
};

typedef struct form form_t;
typedef struct form_field form_field_t;

/* Field type names as on the wire ("text-single"...); "" for FIELD_NONE. Static. */
const char *form_field_type_name(enum field_type type);

/* ---- Building. Every string and text passed in is copied. ---- */

form_t *form_new(enum form_kind kind);
void form_free(form_t *form);
/* A deep copy; the caller owns it. */
form_t *form_copy(const form_t *form);

/* The hidden FORM_TYPE field, rendered first. NULL removes it. */
void form_set_form_type(form_t *form, const char *uri);
void form_set_title(form_t *form, const struct text *title);
/* Adds one <instructions/> element (forms may carry several). */
void form_add_instructions(form_t *form, const struct text *text);

/* Adds a field and returns it, owned by `form` (valid until form_free). `var` may be NULL only
 * for FIELD_FIXED; `label` may be NULL. A second field with the same var is a programming
 * error: it is logged and the first field is returned. */
form_field_t *form_add_field(form_t *form, const char *var, enum field_type type,
                             const struct text *label);
/* A fixed field showing `text` in the request's language (a line of explanation). It has no
 * var in the model; on the wire it gets FORM_FIXED_VAR_PREFIX and its number. */
form_field_t *form_add_fixed(form_t *form, const struct text *text);

/* The same, put at position `pos` among the fields (a note above everything else). */
form_field_t *form_insert_fixed(form_t *form, size_t pos, const struct text *text);
/* form_add_field, the field put at position `pos`. */
form_field_t *form_insert_field(form_t *form, size_t pos, const char *var, enum field_type type,
                                const struct text *label);

void form_field_set_desc(form_field_t *field, const struct text *desc);
void form_field_set_required(form_field_t *field, bool required);
void form_field_add_value(form_field_t *field, const char *value);
/* Adds "1" or "0". */
void form_field_add_bool(form_field_t *field, bool value);
/* Adds the decimal value. */
void form_field_add_int(form_field_t *field, long long value);
/* An option of a list field; `label` may be NULL: the value is then sent as the label too,
 * since some clients show only labels (poezio) or "(null)" (profanity). */
void form_field_add_option(form_field_t *field, const char *value, const struct text *label);
/* A list-single/list-multi that also accepts values outside its options (xdv:open). For
 * clients that cannot type into a list (profanity) the form shown may carry a text-single
 * `var` FORM_OTHER_SUFFIX beside it (present_stage adds one); form_check takes a value typed
 * there (for a list-multi: several, separated by commas or spaces) as the list's value. */
void form_field_set_open(form_field_t *field, bool open);
void form_field_set_datatype(form_field_t *field, enum form_datatype dt);
/* xs:integer within [min, max] (xdv:range); either bound may be absent. */
void form_field_set_range(form_field_t *field, bool has_min, long long min, bool has_max,
                          long long max);

/* ---- Result tables (<reported/> + <item/>s) ---- */

/* Adds a column (a field of <reported/>); `label` may be NULL. */
void form_add_column(form_t *form, const char *var, enum field_type type, const struct text *label);
/* Adds a row: `cells` holds one string per column, in column order; NULL cells are sent as an
 * empty value. Strings are copied. */
void form_add_row(form_t *form, const char *const *cells);
size_t form_column_count(const form_t *form);
size_t form_row_count(const form_t *form);
const char *form_column_var(const form_t *form, size_t col);
/* The cell at (row, col); NULL when out of range or empty. Borrowed. */
const char *form_cell(const form_t *form, size_t row, size_t col);
/* Number of pages of `per_page` rows (at least 1). */
size_t form_page_count(const form_t *form, size_t per_page);
/* The label of column `col` in `lang` (NULL when it has none) and its field type. */
const char *form_column_label(const form_t *form, size_t col, const char *lang);
enum field_type form_column_type(const form_t *form, size_t col);
/* How a person reads `value` in column `var`: cells stay machine values (bots and scripts read
 * "admin", "stale"), and rows shown to people say `label` in their language instead. */
void form_column_value_label(form_t *form, const char *var, const char *value,
                             const struct text *label);
/* The cell as a person reads it (its value label in `lang`, else the value itself). Borrowed;
 * NULL when the cell is. */
const char *form_cell_display(const form_t *form, size_t row, size_t col, const char *lang);

/* ---- Reading ---- */

enum form_kind form_get_kind(const form_t *form);
/* Borrowed; NULL when the form has none. */
const char *form_get_form_type(const form_t *form);
const char *form_get_title(const form_t *form, const char *lang);
size_t form_instructions_count(const form_t *form);
const char *form_get_instructions(const form_t *form, size_t i, const char *lang);
size_t form_field_count(const form_t *form);
/* Fields in order (the FORM_TYPE field is not one of them). Borrowed. */
const form_field_t *form_field_at(const form_t *form, size_t i);
/* The field named `var`, or NULL. Borrowed; the second form is for building on it. */
const form_field_t *form_field(const form_t *form, const char *var);
form_field_t *form_field_mut(form_t *form, const char *var);

const char *form_field_var(const form_field_t *field);
enum field_type form_field_type(const form_field_t *field);
bool form_field_required(const form_field_t *field);
bool form_field_open(const form_field_t *field);
const char *form_field_label(const form_field_t *field, const char *lang);
size_t form_field_value_count(const form_field_t *field);
/* The i-th value (borrowed), NULL when out of range. */
const char *form_field_value(const form_field_t *field, size_t i);
size_t form_field_option_count(const form_field_t *field);
const char *form_field_option_value(const form_field_t *field, size_t i);
/* The option's label in `lang` as sent (its value when it has none). */
const char *form_field_option_label(const form_field_t *field, size_t i, const char *lang);
/* The text a fixed field shows in `lang`, or NULL. */
const char *form_field_fixed_text(const form_field_t *field, const char *lang);

/* Convenience over a checked submission (values there are normalised: booleans are "1"/"0",
 * integers plain decimal, list and jid values trimmed). Strings borrowed from `form`. */
const char *form_value(const form_t *form, const char *var); /* first value or NULL */
/* Number of values of `var`; *out gets them (borrowed array) or NULL. */
size_t form_values(const form_t *form, const char *var, const char *const **out);
bool form_bool(const form_t *form, const char *var, bool dflt);
long long form_int(const form_t *form, const char *var, long long dflt);

/* True when `form` asks for input: a FORM_FORM with a field that is neither fixed nor
 * hidden. */
bool form_wants_input(const form_t *form);

#endif
