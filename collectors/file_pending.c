/* The `file` topic's coalescing: pending changes per path and moves. */
#include "file_pending.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>

#include "clock.h"
#include "json.h"

static const char *const action_names[FILE_NACTIONS] = {"created", "modified", "deleted", "moved",
							"attrib"};

const char *file_action_name(enum file_action a)
{
	return (unsigned)a < FILE_NACTIONS ? action_names[a] : NULL;
}

int file_mask_action(uint32_t mask)
{
	if (mask & IN_Q_OVERFLOW || mask & IN_IGNORED)
		return -1;
	if (mask & IN_CREATE)
		return FILE_CREATED;
	if (mask & IN_DELETE)
		return FILE_DELETED;
	if (mask & (IN_MOVED_FROM | IN_MOVED_TO))
		return FILE_MOVED;
	if (mask & IN_MODIFY)
		return FILE_MODIFIED;
	if (mask & IN_ATTRIB)
		return FILE_ATTRIB;
	return -1;
}

static void file_pending_unlink(struct file_pending_list *l, struct file_pending *p)
{
	if (p->prev)
		p->prev->next = p->next;
	else
		l->head = p->next;
	if (p->next)
		p->next->prev = p->prev;
	else
		l->tail = p->prev;
	p->prev = p->next = NULL;
	l->n--;
}

void file_pending_free(struct file_pending *p)
{
	if (!p)
		return;
	free(p->path);
	free(p->from);
	free(p->to);
	free(p);
}

static void file_note_action(struct file_pending *p, int action)
{
	bool seen = false;

	for (unsigned i = 0; i < p->n_order; i++)
		seen |= p->order[i] == action;
	if (!seen && p->n_order < FILE_NACTIONS)
		p->order[p->n_order++] = (unsigned char)action;
	p->last = action;
	p->count++;
}

cJSON *file_pending_json(const struct file_pending *p)
{
	cJSON *o = cJSON_CreateObject(), *acts;
	bool ok;

	if (!o)
		return NULL;
	ok = cJSON_AddNumberToObject(o, "t", (double)p->t_ms) &&
	     json_str(o, "path", p->path) == 0 &&
	     cJSON_AddStringToObject(o, "action", file_action_name(p->last)) &&
	     (acts = cJSON_AddArrayToObject(o, "actions"));
	for (unsigned i = 0; ok && i < p->n_order; i++) {
		cJSON *a = cJSON_CreateString(file_action_name(p->order[i]));

		ok = a != NULL;
		if (a)
			cJSON_AddItemToArray(acts, a);
	}
	ok = ok && cJSON_AddBoolToObject(o, "dir", p->dir) &&
	     cJSON_AddNumberToObject(o, "count", (double)p->count);
	if (ok && p->move)
		ok = json_str(o, "from", p->from) == 0 && json_str(o, "to", p->to) == 0;
	if (!ok) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

static struct file_pending *file_pending_new(struct file_pending_list *l, const char *path,
					     bool dir, int64_t t_ms, unsigned window_ms)
{
	struct file_pending *p = calloc(1, sizeof(*p));

	if (!p || !(p->path = strdup(path))) {
		free(p);
		return NULL;
	}
	if (l->n >= FILE_PENDING_MAX) {
		struct file_pending *oldest = l->head;

		file_pending_unlink(l, oldest);
		l->evict(l->ctx, oldest);
	}
	p->dir = dir;
	p->t_ms = t_ms;
	p->deadline_ns = clock_mono_ns() + (uint64_t)window_ms * 1000000u;
	p->prev = l->tail;
	if (l->tail)
		l->tail->next = p;
	else
		l->head = p;
	l->tail = p;
	l->n++;
	return p;
}

int file_pending_add(struct file_pending_list *l, const char *path, int action, bool dir,
		     int64_t t_ms, unsigned window_ms)
{
	struct file_pending *p;

	for (p = l->tail; p; p = p->prev)
		if (!p->move && strcmp(p->path, path) == 0)
			break;
	if (!p && !(p = file_pending_new(l, path, dir, t_ms, window_ms)))
		return -ENOMEM;
	p->dir |= dir;
	file_note_action(p, action);
	return 0;
}

int file_pending_move(struct file_pending_list *l, const char *path, uint32_t mask, uint32_t cookie,
		      int64_t t_ms, unsigned window_ms, const char **ret_from)
{
	bool dir = mask & IN_ISDIR;
	struct file_pending *p = NULL;
	char *to;

	if (mask & IN_MOVED_TO) {
		for (p = l->tail; p; p = p->prev)
			if (p->move && p->cookie == cookie && cookie && !p->to)
				break;
	}
	if (p) {
		if (!(to = strdup(path)) || !(p->to = strdup(path))) {
			free(to);
			return -ENOMEM;
		}
		free(p->path);
		p->path = to;
		*ret_from = p->from;
		return 1;
	}
	if (!(p = file_pending_new(l, path, dir, t_ms, window_ms)))
		return -ENOMEM;
	p->move = true;
	p->cookie = cookie;
	if (!((mask & IN_MOVED_FROM) ? (p->from = strdup(path)) : (p->to = strdup(path))))
		return -ENOMEM;
	file_note_action(p, FILE_MOVED);
	return 0;
}

struct file_pending *file_pending_next_due(struct file_pending_list *l, uint64_t now_ns, bool all)
{
	struct file_pending *p = l->head;

	if (!p || (!all && p->deadline_ns > now_ns))
		return NULL;
	file_pending_unlink(l, p);
	return p;
}

uint64_t file_pending_deadline(const struct file_pending_list *l)
{
	return l->head ? l->head->deadline_ns : 0;
}

void file_pending_clear(struct file_pending_list *l)
{
	while (l->head) {
		struct file_pending *p = l->head;

		file_pending_unlink(l, p);
		file_pending_free(p);
	}
}
