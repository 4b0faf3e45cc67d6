/* codefmt_int.h - what codefmt.c (markdown, markers, the entry point) and codefmt_dict.c (dict
 * literals) share: the output buffer and character classes. Not for the rest of the tree. */
#ifndef SANDPIT_CODEFMT_INT_H
#define SANDPIT_CODEFMT_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Output under construction: capacity fixed when allocated (one byte more is kept for the NUL). */
struct codefmt_out {
    char *buf;    /* owned by whoever allocated it; NULL only for counting */
    size_t len;   /* bytes stored, never above cap */
    size_t total; /* bytes that were asked to be stored, may exceed cap (key comparison) */
    size_t cap;   /* bytes buf can hold before its NUL */
};

/* codefmt.c */
bool codefmt_is_space(char c);
bool codefmt_is_digit(char c);
bool codefmt_is_alpha(char c);
char codefmt_lower(char c);
void codefmt_put(struct codefmt_out *o, const char *s, size_t n);
void codefmt_put1(struct codefmt_out *o, char c);
void codefmt_put_utf8(struct codefmt_out *o, uint32_t cp);
int codefmt_out_alloc(struct codefmt_out *o, size_t cap);

/* 1 and *val new (free with free()) when the whole of t is a dict literal whose generated_code
 * (preferred) or code key holds a str; 0 when it is anything else; -ENOMEM. */
int codefmt_dict_parse(const char *t, size_t n, char **val, size_t *val_len);

#endif
