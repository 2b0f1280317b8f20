/*
 * certs_expiry.c - etcdpilot certs check-expiration: the pki library's
 * status of every certificate, rendered as kubeadm's table or as one JSON
 * document (kubeadm's CertificateExpirationInfo, plus "path").  It reads
 * only; no PKI logic lives here.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "etcdpilot/pki.h"

/* ---- check-expiration --------------------------------------------------- */

/* kubeadm lists the leaves by name: apiserver-etcd-client first. */
static const enum ep_cert_id leaf_order[] = {
    EP_CERT_APISERVER_ETCD_CLIENT,
    EP_CERT_HEALTHCHECK_CLIENT,
    EP_CERT_PEER,
    EP_CERT_SERVER,
};

static json_t *status_entry(const struct ep_pki_status *st, const struct ep_cert_status *cs)
{
	const struct ep_cert_profile *prof = ep_cert_profile(cs->id);
	json_t *o = json_object();
	json_object_set_new(o, "name", json_string(prof->name));
	json_object_set_new(o, "path", json_string(cs->crt_path));
	if (cs->missing) {
		json_object_set_new(o, "expirationDate", json_null());
		json_object_set_new(o, "residualTime", json_integer(0));
	} else {
		char iso[32];
		struct tm tm;
		gmtime_r(&cs->not_after, &tm);
		strftime(iso, sizeof(iso), "%Y-%m-%dT%H:%M:%SZ", &tm);
		json_object_set_new(o, "expirationDate", json_string(iso));
		json_object_set_new(o, "residualTime",
				    json_integer((json_int_t)(cs->not_after - st->now)));
	}
	json_object_set_new(o, "externallyManaged", json_boolean(cs->external));
	if (!prof->is_ca)
		json_object_set_new(o, "caName", json_string("etcd-ca"));
	json_object_set_new(o, "missing", json_boolean(cs->missing));
	return o;
}

/* kubeadm's output.kubeadm.k8s.io/v1alpha3 CertificateExpirationInfo, plus "path". */
static json_t *status_doc(const struct ep_pki_status *st)
{
	json_t *doc = json_object(), *certs = json_array(), *cas = json_array();
	json_object_set_new(doc, "kind", json_string("CertificateExpirationInfo"));
	json_object_set_new(doc, "apiVersion", json_string("output.kubeadm.k8s.io/v1alpha3"));
	for (size_t i = 0; i < sizeof(leaf_order) / sizeof(leaf_order[0]); i++)
		json_array_append_new(certs, status_entry(st, &st->certs[leaf_order[i]]));
	json_array_append_new(cas, status_entry(st, &st->certs[EP_CERT_CA]));
	json_object_set_new(doc, "certificates", certs);
	json_object_set_new(doc, "certificateAuthorities", cas);
	return doc;
}

#define TAB_COLS 5
#define TAB_ROWS 8

/*
 * Go's text/tabwriter as kubeadm sets it up (minwidth 10, padding 3,
 * spaces): a cell ended by a tab is padded to its column's width; the last
 * cell of a line is printed as is.
 */
struct table {
	char cell[TAB_ROWS][TAB_COLS][96];
	int ncells[TAB_ROWS]; /* cells ended by a tab, then one trailing cell */
	int nrows;
};

static void table_row(struct table *t, int nterm, const char *c0, const char *c1, const char *c2,
		      const char *c3, const char *c4)
{
	if (t->nrows >= TAB_ROWS)
		return;
	const char *c[TAB_COLS] = {c0, c1, c2, c3, c4};
	for (int i = 0; i < TAB_COLS; i++)
		snprintf(t->cell[t->nrows][i], sizeof(t->cell[0][0]), "%s", c[i] ? c[i] : "");
	t->ncells[t->nrows++] = nterm;
}

static void table_print(const struct table *t)
{
	size_t width[TAB_COLS] = {0};
	for (int r = 0; r < t->nrows; r++)
		for (int i = 0; i < t->ncells[r]; i++) {
			size_t w = strlen(t->cell[r][i]) + 3;
			if (w < 10)
				w = 10;
			if (w > width[i])
				width[i] = w;
		}
	for (int r = 0; r < t->nrows; r++) {
		for (int i = 0; i < t->ncells[r]; i++)
			printf("%-*s", (int)width[i], t->cell[r][i]);
		printf("%s\n", t->cell[r][t->ncells[r]]);
	}
}

static void status_text(json_t *doc)
{
	struct table t = {0};
	table_row(&t, 4, "CERTIFICATE", "EXPIRES", "RESIDUAL TIME", "CERTIFICATE AUTHORITY",
		  "EXTERNALLY MANAGED");
	size_t i;
	json_t *c;
	for (int pass = 0; pass < 2; pass++) {
		json_t *list =
		    json_object_get(doc, pass ? "certificateAuthorities" : "certificates");
		if (pass) {
			table_print(&t);
			printf("\n");
			memset(&t, 0, sizeof(t));
			table_row(&t, 3, "CERTIFICATE AUTHORITY", "EXPIRES", "RESIDUAL TIME",
				  "EXTERNALLY MANAGED", NULL);
		}
		json_array_foreach(list, i, c)
		{
			const char *name = json_string_value(json_object_get(c, "name"));
			char missing[128], expires[64], residual[32], managed[16];
			if (json_is_true(json_object_get(c, "missing"))) {
				snprintf(missing, sizeof(missing), "!MISSING! %s", name);
				table_row(&t, pass ? 3 : 4, missing, "", "", "", "");
				continue;
			}
			json_int_t left = json_integer_value(json_object_get(c, "residualTime"));
			const char *iso = json_string_value(json_object_get(c, "expirationDate"));
			struct tm tm = {0};
			if (!iso || !strptime(iso, "%Y-%m-%dT%H:%M:%SZ", &tm))
				snprintf(expires, sizeof(expires), "?");
			else
				ep_pki_format_expiry(timegm(&tm), expires, sizeof(expires));
			ep_pki_format_residual(0, (time_t)left, residual, sizeof(residual));
			snprintf(managed, sizeof(managed), "%-8s",
				 json_is_true(json_object_get(c, "externallyManaged")) ? "yes"
										       : "no");
			if (pass)
				table_row(&t, 3, name, expires, residual, managed, NULL);
			else
				table_row(&t, 4, name, expires, residual,
					  json_string_value(json_object_get(c, "caName")), managed);
		}
	}
	table_print(&t);
}

static int run_check_expiration(struct cli_ctx *ctx, struct ep_error *err)
{
	struct ep_spec spec;
	ep_spec_init(&spec);
	/* Zeroed, so that releasing it is right whether or not it was read. */
	struct ep_pki_status st = {0};
	int r = cli_load_spec_any_address(ctx, &spec, err);
	if (r >= 0)
		r = ep_pki_status_read(&spec, ctx->root, &st, err);
	if (r >= 0) {
		json_t *doc = status_doc(&st);
		if (cli_json(ctx)) {
			cli_print_json(doc);
		} else {
			status_text(doc);
			json_decref(doc);
		}
	}
	/* Also after a failure: the paths read so far are heap strings (pki.h). */
	ep_pki_status_release(&st);
	ep_spec_release(&spec);
	return r;
}

const struct cli_command cmd_certs_check_expiration = {
    .name = "certs check-expiration",
    .run = run_check_expiration,
    .groups = CLI_NODE,
    .args = NULL,
    .summary = "show when each etcd certificate expires",
    .help = "Prints kubeadm's table (or, with -o json, kubeadm's CertificateExpirationInfo\n"
	    "document plus each file's path).  A missing file is listed as !MISSING!.",
    .min_args = 0,
    .max_args = 0,
	.json_output = true,
};
