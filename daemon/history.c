#include "history.h"

#include <string.h>

/* The child of object named by the n bytes at key, as
 * cJSON_GetObjectItemCaseSensitive finds it (the first, and none past a
 * child without a name), without copying the key: names that differ in
 * their first byte cost no strncmp. */
static const cJSON *child(const cJSON *object, const char *key, size_t n)
{
	char first = n ? key[0] : '\0';

	for (const cJSON *c = object->child; c && c->string; c = c->next)
		if (c->string[0] == first && strncmp(c->string, key, n) == 0 &&
		    c->string[n] == '\0')
			return c;
	return NULL;
}

const cJSON *history_lookup(const cJSON *item, const char *path, size_t len)
{
	while (item && len) {
		size_t n = strcspn(path, ".");

		if (n > len)
			n = len;
		if (n >= 128)
			return NULL; /* a name that long is not looked for */
		item = cJSON_IsObject(item) ? child(item, path, n) : NULL;
		path += n;
		len -= n;
		if (len && *path == '.') {
			path++;
			len--;
		}
	}
	return item;
}

static const cJSON *lookup(const cJSON *item, const char *path)
{
	return history_lookup(item, path, strlen(path));
}

static cJSON *copy_leaf(const cJSON *v)
{
	if (cJSON_IsNumber(v))
		return cJSON_CreateNumber(v->valuedouble);
	if (cJSON_IsString(v))
		return cJSON_CreateString(v->valuestring);
	if (cJSON_IsBool(v))
		return cJSON_CreateBool(cJSON_IsTrue(v));
	return cJSON_CreateNull();
}

/* The value of one path: a leaf, or an array for "key[].rest". */
static cJSON *value_of(const cJSON *payload, const char *path)
{
	const char *br = strstr(path, "[]");
	char head[128];
	const cJSON *arr, *el;
	cJSON *out;

	if (!br)
		return copy_leaf(lookup(payload, path));
	if ((size_t)(br - path) >= sizeof(head))
		return cJSON_CreateNull();
	memcpy(head, path, (size_t)(br - path));
	head[br - path] = '\0';
	arr = lookup(payload, head);
	if (!cJSON_IsArray(arr))
		return cJSON_CreateNull();
	if (!(out = cJSON_CreateArray()))
		return NULL;
	path = br + 2;
	if (*path == '.')
		path++;
	cJSON_ArrayForEach(el, arr)
	{
		cJSON *v = *path ? value_of(el, path) : copy_leaf(el);

		if (!v || !cJSON_AddItemToArray(out, v)) {
			cJSON_Delete(v);
			cJSON_Delete(out);
			return NULL;
		}
	}
	return out;
}

cJSON *history_row(const cJSON *payload, const char *const *paths)
{
	cJSON *row = cJSON_CreateArray(), *v;

	if (!row)
		return NULL;
	v = copy_leaf(cJSON_GetObjectItemCaseSensitive(payload, "t"));
	if (!v || !cJSON_AddItemToArray(row, v))
		goto fail;
	for (size_t i = 0; paths[i]; i++) {
		v = value_of(payload, paths[i]);
		if (!v || !cJSON_AddItemToArray(row, v))
			goto fail;
	}
	return row;
fail:
	cJSON_Delete(v);
	cJSON_Delete(row);
	return NULL;
}
