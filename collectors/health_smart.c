/* The SMART file's parser: smartmontools' JSON keys, see smartctl(8)
 * --json and its JSON schema (www/smartctl-json in its sources). */
#include "health_smart.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

void smart_file_free(struct smart_file *f)
{
	if (!f)
		return;
	free(f->v);
	memset(f, 0, sizeof(*f));
}

static const cJSON *smart_at(const cJSON *o, const char *a, const char *b)
{
	const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, a);

	return b ? cJSON_GetObjectItemCaseSensitive(x, b) : x;
}

/* A whole non-negative number that a double holds exactly. */
static bool smart_uint(const cJSON *x, uint64_t *ret)
{
	if (!cJSON_IsNumber(x) || !(x->valuedouble >= 0) || x->valuedouble > 9007199254740992.0 ||
	    floor(x->valuedouble) != x->valuedouble)
		return false;
	*ret = (uint64_t)x->valuedouble;
	return true;
}

/* A string cut to fit, control bytes as spaces. */
static void smart_copy(char *dst, size_t size, const char *s)
{
	size_t i = 0;

	for (; *s && i + 1 < size; s++)
		dst[i++] = (unsigned char)*s < 0x20 ? ' ' : *s;
	dst[i] = '\0';
}

static void smart_text(char *dst, size_t size, const cJSON *x)
{
	smart_copy(dst, size, cJSON_IsString(x) ? x->valuestring : "");
}

/* raw.value of ATA attribute id, from ata_smart_attributes.table. */
static bool smart_attr(const cJSON *d, unsigned id, uint64_t *ret)
{
	const cJSON *e;

	cJSON_ArrayForEach(e, smart_at(d, "ata_smart_attributes", "table"))
	{
		uint64_t v;

		if (smart_uint(smart_at(e, "id", NULL), &v) && v == id)
			return smart_uint(smart_at(e, "raw", "value"), ret);
	}
	return false;
}

/* The endurance used: NVMe's percentage_used, smartctl's endurance_used
 * (7.4+), SCSI's indicator, or ATA device statistics' "Percentage Used
 * Endurance Indicator". */
static bool smart_wear(const cJSON *d, uint64_t *ret)
{
	const cJSON *page, *e;

	if (smart_uint(smart_at(d, "nvme_smart_health_information_log", "percentage_used"), ret) ||
	    smart_uint(smart_at(d, "endurance_used", "current_percent"), ret) ||
	    smart_uint(smart_at(d, "scsi_percentage_used_endurance_indicator", NULL), ret))
		return true;
	cJSON_ArrayForEach(page, smart_at(d, "ata_device_statistics", "pages"))
	{
		cJSON_ArrayForEach(e, smart_at(page, "table", NULL))
		{
			const cJSON *name = smart_at(e, "name", NULL);

			if (cJSON_IsString(name) &&
			    strcmp(name->valuestring, "Percentage Used Endurance Indicator") == 0)
				return smart_uint(smart_at(e, "value", NULL), ret);
		}
	}
	return false;
}

static void smart_device(const cJSON *d, struct smart_dev *s)
{
	const cJSON *nv = smart_at(d, "nvme_smart_health_information_log", NULL), *x;
	const cJSON *name = smart_at(d, "device", "name");
	uint64_t v;

	memset(s, 0, sizeof(*s));
	if (cJSON_IsString(name))
		smart_copy(s->device, sizeof(s->device),
			   name->valuestring +
			       (strncmp(name->valuestring, "/dev/", 5) == 0 ? 5 : 0));
	smart_text(s->protocol, sizeof(s->protocol), smart_at(d, "device", "protocol"));
	smart_text(s->model, sizeof(s->model), smart_at(d, "model_name", NULL));
	smart_text(s->serial, sizeof(s->serial), smart_at(d, "serial_number", NULL));
	x = smart_at(d, "smart_status", "passed");
	if (cJSON_IsBool(x)) {
		s->passed = cJSON_IsTrue(x);
		s->has |= SMART_HAS_PASSED;
	}
	if (smart_uint(smart_at(d, "temperature", "current"), &v)) {
		s->temp_c = (double)v;
		s->has |= SMART_HAS_TEMP;
	}
	if (smart_wear(d, &v)) {
		s->wear_pct = (double)v;
		s->has |= SMART_HAS_WEAR;
	}
	if (smart_uint(smart_at(d, "power_on_time", "hours"), &s->power_on_hours))
		s->has |= SMART_HAS_HOURS;
	if (nv) {
		if (smart_uint(smart_at(nv, "media_errors", NULL), &s->media_errors))
			s->has |= SMART_HAS_MEDIA;
		if (smart_uint(smart_at(nv, "critical_warning", NULL), &s->critical_warning))
			s->has |= SMART_HAS_CRIT;
		if (smart_uint(smart_at(nv, "available_spare", NULL), &v)) {
			s->spare_pct = (double)v;
			s->has |= SMART_HAS_SPARE;
		}
	} else {
		if (smart_attr(d, 187, &s->media_errors))
			s->has |= SMART_HAS_MEDIA;
		if (smart_attr(d, 5, &s->reallocated))
			s->has |= SMART_HAS_REALLOC;
		if (smart_attr(d, 197, &s->pending))
			s->has |= SMART_HAS_PENDING;
	}
	/* exit status bits 0-1: the command line or the device open failed */
	if (smart_uint(smart_at(d, "smartctl", "exit_status"), &v) && (v & 3)) {
		const cJSON *msg = cJSON_GetArrayItem(smart_at(d, "smartctl", "messages"), 0);

		smart_text(s->error, sizeof(s->error), smart_at(msg, "string", NULL));
		if (!s->error[0])
			snprintf(s->error, sizeof(s->error), "smartctl exit status %u",
				 (unsigned)v);
	}
}

int smart_parse(const char *text, size_t len, struct smart_file *ret)
{
	const cJSON *devs, *d, *t;
	cJSON *root;
	uint64_t v;
	int r = -EINVAL;

	smart_file_free(ret);
	root = cJSON_ParseWithLength(text, len);
	if (!root || !cJSON_IsObject(root) ||
	    !smart_uint(smart_at(root, "sysfeed-smart", NULL), &v) || v != 1)
		goto out;
	t = smart_at(root, "time", NULL);
	if (!smart_uint(t, &v) || v > INT64_MAX / 1000)
		goto out;
	ret->time_s = (int64_t)v;
	smart_text(ret->error, sizeof(ret->error), smart_at(root, "error", NULL));
	devs = smart_at(root, "devices", NULL);
	if (cJSON_IsArray(devs) && cJSON_GetArraySize(devs) > 0) {
		size_t n = (size_t)cJSON_GetArraySize(devs);

		ret->v = calloc(n < SMART_MAX_DEVICES ? n : SMART_MAX_DEVICES, sizeof(*ret->v));
		if (!ret->v) {
			r = -ENOMEM;
			goto out;
		}
		cJSON_ArrayForEach(d, devs)
		{
			if (ret->n == SMART_MAX_DEVICES)
				break;
			if (!cJSON_IsObject(d))
				continue;
			smart_device(d, &ret->v[ret->n]);
			if (ret->v[ret->n].device[0])
				ret->n++;
		}
	}
	r = 0;
out:
	if (r < 0)
		smart_file_free(ret);
	cJSON_Delete(root);
	return r;
}
