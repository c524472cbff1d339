/* The SMART file the sysfeed-smart helper writes (packaging/smart): one
 * JSON object {"sysfeed-smart":1,"time":<s>,"devices":[...]} whose devices
 * are what `smartctl --json -a` printed for each drive (smartmontools'
 * JSON, json_format_version 1), or {"sysfeed-smart":1,"time":<s>,
 * "error":"..."} when smartctl could not run. Pure: bytes in, struct out. */
#ifndef SYSFEED_HEALTH_SMART_H
#define SYSFEED_HEALTH_SMART_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The file is at most this big; devices past SMART_MAX_DEVICES are left out. */
#define SMART_FILE_MAX    (8u << 20)
#define SMART_MAX_DEVICES 256

/* What a drive's entry holds, as bits of struct smart_dev.has. */
enum smart_has {
	SMART_HAS_PASSED = 1u << 0,
	SMART_HAS_TEMP = 1u << 1,
	SMART_HAS_WEAR = 1u << 2,
	SMART_HAS_MEDIA = 1u << 3,
	SMART_HAS_REALLOC = 1u << 4,
	SMART_HAS_PENDING = 1u << 5,
	SMART_HAS_CRIT = 1u << 6,
	SMART_HAS_HOURS = 1u << 7,
	SMART_HAS_SPARE = 1u << 8,
};

struct smart_dev {
	char device[64];           /* "sda", "nvme0": device.name without /dev/ */
	char protocol[8];          /* "ATA", "NVMe", "SCSI", or "" */
	char model[64];            /* model_name, or "" */
	char serial[48];           /* serial_number, or "" */
	char error[128];           /* what smartctl said when it could not read the drive, or "" */
	unsigned has;              /* enum smart_has */
	bool passed;               /* smart_status.passed */
	double temp_c;             /* temperature.current */
	double wear_pct;           /* percentage of the rated endurance used */
	uint64_t media_errors;     /* NVMe media_errors; ATA 187 Reported_Uncorrect */
	uint64_t reallocated;      /* ATA 5 Reallocated_Sector_Ct raw */
	uint64_t pending;          /* ATA 197 Current_Pending_Sector raw */
	uint64_t critical_warning; /* NVMe critical_warning bits */
	uint64_t power_on_hours;
	double spare_pct; /* NVMe available_spare */
};

struct smart_file {
	int64_t time_s;  /* when the helper ran (its "time") */
	char error[128]; /* the helper's "error", or "" */
	struct smart_dev *v;
	size_t n;
};

/* Parses the file. Returns 0, -EINVAL (not JSON, not the helper's object,
 * no "time"), -ENOMEM. Replaces what *ret held; free with
 * smart_file_free(). */
int smart_parse(const char *text, size_t len, struct smart_file *ret);
void smart_file_free(struct smart_file *f);

#endif
