/* Server-Sent Events wire encoding and event ids. Pure functions. */
#ifndef SYSFEED_SSE_H
#define SYSFEED_SSE_H

#include <stddef.h>
#include <stdint.h>

#define SSE_ID_MAX 64 /* longest Last-Event-ID we look at */

/* Encodes one event: "event: NAME\ndata: ...\nid: ID\n\n", the id last so
 * that a frame cut short never advances a client's last event id. id or event
 * may be NULL. data is split into one `data:` line per line (CR, LF and
 * CRLF all end a line); NUL bytes and each ill-formed UTF-8 run become one
 * U+FFFD (as browsers decode; see utf8_seq) so every
 * client parses the same thing. Writes at most `size` bytes; returns the
 * length the frame needs (like snprintf), or -EINVAL when id or event hold
 * a CR, LF or NUL. Nothing is written past buf[size - 1]. */
long sse_encode(char *buf, size_t size, const char *id, const char *event, const char *data,
		size_t data_len);

/* Writes "<instance>-<seq>" (instance as 16 hex digits); returns its length. */
int sse_format_id(char *buf, size_t size, uint64_t instance, uint64_t seq);

enum sse_id_kind {
	SSE_ID_NONE,    /* empty or absent */
	SSE_ID_OURS,    /* this instance: *ret_seq is valid */
	SSE_ID_FOREIGN, /* well formed, another instance */
	SSE_ID_INVALID, /* garbage or too long */
};

/* Classifies a Last-Event-ID value against our instance. */
enum sse_id_kind sse_parse_id(const char *s, uint64_t instance, uint64_t *ret_seq);

#endif
