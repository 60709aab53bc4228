/* SPDX-License-Identifier: Apache-2.0 */
/* HTTPS client over libcurl.
 *
 * This code runs inside root processes (sshd, sudo) and, under sudo, in the invoking user's
 * environment. So nothing here may come from the environment: proxy and CA are always set
 * explicitly from the configuration, only https is spoken, certificate and host checks are
 * always on, and every call is bounded in time and size. */
#include "conf.h"
#include "http.h"
#include "clock.h"
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <curl/curl.h>

/* PACKAGE_VERSION comes from the build's autoconfig.h, included on the command line. */
#define HTTP_USER_AGENT "pam_entra_tap/" PACKAGE_VERSION
/* Connecting (TCP + TLS handshake) never gets more than this of the budget. */
#define HTTP_CONNECT_MAX_MS 5000L
/* Pause before the one retry of a GET. */
#define HTTP_RETRY_BACKOFF_MS 200L
/* A retry is pointless with less than this left of the budget. */
#define HTTP_RETRY_MIN_LEFT_MS 500L
#define HTTP_HOST_MAX 256

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_result = CURLE_FAILED_INIT;

/* curl_global_init is not thread-safe on every libcurl and must run once per process;
 * curl_global_cleanup is never called: the host process (sshd, sudo) may use libcurl too. */
static void curl_init_once(void)
{
	/* libcurl opens the file named by SSLKEYLOGFILE (append, create) during global init with
	 * plain getenv. Inside sudo that variable is the invoking user's: root would create a file
	 * of the user's choosing and write the TLS secrets of our token exchange into it. Hide it
	 * for the init, then put the host process's environment back as it was. (PAM hosts run
	 * this single-threaded; the environment is not touched otherwise.) */
	const char *keylog = getenv("SSLKEYLOGFILE");
	char *saved = keylog ? strdup(keylog) : NULL;

	if (keylog)
		unsetenv("SSLKEYLOGFILE");
	if (keylog && !saved) {
		/* Out of memory: better a lost variable than a keylog file. */
		curl_init_result = CURLE_OUT_OF_MEMORY;
		return;
	}
	curl_init_result = curl_global_init(CURL_GLOBAL_DEFAULT);
	if (saved) {
		setenv("SSLKEYLOGFILE", saved, 1);
		free(saved);
	}
}

struct body_buf {
	char *data;
	size_t len, cap;
	bool too_large;
};

/* Grow by hand rather than realloc, so no copy of a response (tokens) is left behind in
 * freed memory. */
static size_t body_write(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	struct body_buf *b = userdata;
	size_t n = size * nmemb;

	if (n > ET_HTTP_MAX_BODY - b->len) {
		b->too_large = true;
		return 0; /* anything other than n aborts the transfer */
	}
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		char *grown;
		while (cap < b->len + n + 1)
			cap *= 2;
		if (cap > ET_HTTP_MAX_BODY + 1)
			cap = ET_HTTP_MAX_BODY + 1;
		grown = malloc(cap);
		if (!grown)
			return 0;
		if (b->data) {
			memcpy(grown, b->data, b->len);
			explicit_bzero(b->data, b->cap);
			free(b->data);
		}
		b->data = grown;
		b->cap = cap;
	}
	memcpy(b->data + b->len, ptr, n);
	b->len += n;
	b->data[b->len] = '\0';
	return n;
}

static void body_wipe(struct body_buf *b)
{
	if (b->data) {
		explicit_bzero(b->data, b->cap);
		free(b->data);
	}
	b->data = NULL;
	b->len = b->cap = 0;
	b->too_large = false;
}

/* "https://" (any case) followed by at least one character. */
static bool url_is_https(const char *url)
{
	return url && strncasecmp(url, "https://", 8) == 0 && url[8] != '\0';
}

/* host[:port] of url for messages; never the path or the query (a POST's URL is harmless,
 * but a sentence naming only the host is enough and cannot leak). */
static void url_host(const char *url, char *out, size_t outsz)
{
	CURLU *u = curl_url();
	char *host = NULL, *port = NULL;

	snprintf(out, outsz, "(unparsable URL)");
	if (!u)
		return;
	if (curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK) {
		if (curl_url_get(u, CURLUPART_PORT, &port, 0) == CURLUE_OK)
			snprintf(out, outsz, "%s:%s", host, port);
		else
			snprintf(out, outsz, "%s", host);
	}
	curl_free(host);
	curl_free(port);
	curl_url_cleanup(u);
}

static bool is_tls_error(CURLcode rc)
{
	switch (rc) {
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_ENGINE_NOTFOUND:
	case CURLE_SSL_ENGINE_SETFAILED:
	case CURLE_SSL_ENGINE_INITFAILED:
	case CURLE_SSL_CRL_BADFILE:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
	case CURLE_SSL_INVALIDCERTSTATUS:
	case CURLE_SSL_SHUTDOWN_FAILED:
	case CURLE_USE_SSL_FAILED:
		return true;
	default:
		return false;
	}
}

/* Map a failed transfer to one of the reasons http.h promises. */
static int transfer_error(CURLcode rc, const struct body_buf *b, const char *method, const char *host,
			  const char *errbuf, long budget_ms, struct et_err *err)
{
	const char *detail = errbuf[0] ? errbuf : curl_easy_strerror(rc);

	if (b->too_large || rc == CURLE_FILESIZE_EXCEEDED)
		return et_err_set(err, ET_E_HTTP_TOO_LARGE, "%s %s: the response is larger than %d bytes", method, host,
				  ET_HTTP_MAX_BODY);
	if (rc == CURLE_OPERATION_TIMEDOUT)
		return et_err_set(err, ET_E_HTTP_TIMEOUT, "%s %s: no answer within the %ld ms budget (%s)", method, host,
				  budget_ms, detail);
	if (is_tls_error(rc))
		return et_err_set(err, ET_E_HTTP_TLS, "%s %s: TLS failed: %s", method, host, detail);
	if (rc == CURLE_COULDNT_CONNECT || rc == CURLE_COULDNT_RESOLVE_HOST || rc == CURLE_COULDNT_RESOLVE_PROXY)
		return et_err_set(err, ET_E_HTTP_CONNECT, "%s %s: cannot connect: %s", method, host, detail);
	if (rc == CURLE_UNSUPPORTED_PROTOCOL)
		return et_err_set(err, ET_E_HTTP_SCHEME, "%s %s: refused: only https is allowed (%s)", method, host,
				  detail);
	return et_err_set(err, ET_E_HTTP_ERROR, "%s %s: %s", method, host, detail);
}

/* ca_file decides whom the module trusts to speak for the identity provider: like the
 * configuration and jwks_file, it must be a regular file owned by root and writable by
 * nobody else. */
static int ca_file_check(const char *path, struct et_err *err)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return et_err_set(err, errno == ELOOP ? ET_E_UNSAFE_FILE : ET_E_CONFIG, "ca_file %s: %s", path,
				  errno == ELOOP ? "is a symbolic link: refusing to use it" : strerror(errno));
	if (fstat(fd, &st) < 0) {
		int e = errno;
		close(fd);
		return et_err_set(err, ET_E_CONFIG, "ca_file %s: %s", path, strerror(e));
	}
	close(fd);
	if (!S_ISREG(st.st_mode))
		return et_err_set(err, ET_E_UNSAFE_FILE, "ca_file %s is not a regular file", path);
	/* root's own file (or, for a program run without privileges, the caller's) */
	if (st.st_uid != 0 && st.st_uid != geteuid())
		return et_err_set(err, ET_E_UNSAFE_FILE, "ca_file %s is not owned by root: refusing to use it", path);
	if (st.st_mode & (S_IWGRP | S_IWOTH))
		return et_err_set(err, ET_E_UNSAFE_FILE, "ca_file %s is group- or world-writable: refusing to use it", path);
	return 0;
}

#define SETOPT(h, opt, val)                                                                                            \
	do {                                                                                                           \
		if (curl_easy_setopt((h), (opt), (val)) != CURLE_OK)                                                   \
			goto setopt_failed;                                                                            \
	} while (0)

/* Configure a fresh handle with everything that does not depend on the attempt. */
static int handle_setup(CURL *h, const struct et_config *cfg, const char *url, const char *form,
			struct curl_slist *headers, struct body_buf *b, char *errbuf)
{
	SETOPT(h, CURLOPT_URL, url);
	SETOPT(h, CURLOPT_NOSIGNAL, 1L);
#if LIBCURL_VERSION_NUM >= 0x075500 /* 7.85.0 */
	SETOPT(h, CURLOPT_PROTOCOLS_STR, "https");
	SETOPT(h, CURLOPT_REDIR_PROTOCOLS_STR, "https");
#else
	SETOPT(h, CURLOPT_PROTOCOLS, (long)CURLPROTO_HTTPS);
	SETOPT(h, CURLOPT_REDIR_PROTOCOLS, (long)CURLPROTO_HTTPS);
#endif
	SETOPT(h, CURLOPT_FOLLOWLOCATION, 0L);
	SETOPT(h, CURLOPT_MAXREDIRS, 0L);
	SETOPT(h, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
	SETOPT(h, CURLOPT_SSL_VERIFYPEER, 1L);
	SETOPT(h, CURLOPT_SSL_VERIFYHOST, 2L);
	if (cfg->ca_file && cfg->ca_file[0]) {
		/* Only this CA: drop the distribution's CA directory too. */
		SETOPT(h, CURLOPT_CAINFO, cfg->ca_file);
		SETOPT(h, CURLOPT_CAPATH, (char *)NULL);
	}
	/* Always explicit: an unset CURLOPT_PROXY would make libcurl read http_proxy,
	 * https_proxy and ALL_PROXY from the environment, which under sudo is the user's.
	 * NOPROXY "" likewise stops no_proxy/NO_PROXY from bypassing a configured proxy. */
	SETOPT(h, CURLOPT_PROXY, cfg->proxy ? cfg->proxy : "");
	SETOPT(h, CURLOPT_NOPROXY, "");
	SETOPT(h, CURLOPT_NETRC, (long)CURL_NETRC_IGNORED);
	/* No Accept-Encoding is sent and nothing is decoded: the size cap counts what arrives. */
	SETOPT(h, CURLOPT_HTTP_CONTENT_DECODING, 0L);
	SETOPT(h, CURLOPT_USERAGENT, HTTP_USER_AGENT);
	SETOPT(h, CURLOPT_HTTPHEADER, headers);
	SETOPT(h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)ET_HTTP_MAX_BODY);
	SETOPT(h, CURLOPT_WRITEFUNCTION, body_write);
	SETOPT(h, CURLOPT_WRITEDATA, b);
	SETOPT(h, CURLOPT_ERRORBUFFER, errbuf);
	if (form) {
		/* POSTFIELDS, not COPYPOSTFIELDS: libcurl would keep (and free unwiped) a copy of a
		 * body that may carry a credential. */
		SETOPT(h, CURLOPT_POST, 1L);
		SETOPT(h, CURLOPT_POSTFIELDS, form);
		SETOPT(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(form));
	} else {
		SETOPT(h, CURLOPT_HTTPGET, 1L);
	}
	return 0;
setopt_failed:
	return -1;
}

static bool status_retryable(long status)
{
	return status == 502 || status == 503 || status == 504;
}

/* One request, GET (form NULL) or POST. A GET is tried a second time on a refused connection
 * or a 502/503/504 when the budget allows; a POST never is (it may have been acted on). */
/* curl_slist_free_all frees unwiped: an Authorization header carries a bearer token. */
static void headers_free_wiped(struct curl_slist *headers)
{
	for (struct curl_slist *h = headers; h; h = h->next)
		if (h->data)
			explicit_bzero(h->data, strlen(h->data));
	curl_slist_free_all(headers);
}

static int http_request(const struct et_config *cfg, const char *url, const char *form, const char *content_type,
			const char *bearer, struct et_http_resp *ret, struct et_err *err)
{
	const char *method = form ? "POST" : "GET";
	char host[HTTP_HOST_MAX];
	char errbuf[CURL_ERROR_SIZE];
	struct curl_slist *headers = NULL, *h2;
	struct body_buf b = { 0 };
	long budget_ms, start_ms, status = 0;
	int attempts = form ? 1 : 2;
	int r = -1;

	if (!url_is_https(url)) {
		/* Only the scheme is named: the rest of a refused URL is none of the log's business. */
		const char *colon = url ? strchr(url, ':') : NULL;
		int slen = colon && colon - url < 16 ? (int)(colon - url) : 0;
		return et_err_set(err, ET_E_HTTP_SCHEME, "%s refused: only https:// URLs are allowed (got %s%.*s)", method,
				  slen ? "scheme " : "no scheme", slen, slen ? url : "");
	}
	url_host(url, host, sizeof(host));
	if (cfg->ca_file && cfg->ca_file[0] && ca_file_check(cfg->ca_file, err) < 0)
		return -1;
	pthread_once(&curl_once, curl_init_once);
	if (curl_init_result != CURLE_OK)
		return et_err_set(err, ET_E_HTTP_ERROR, "%s %s: libcurl could not be initialised: %s", method, host,
				  curl_easy_strerror(curl_init_result));

	budget_ms = (cfg->http_timeout > 0 ? cfg->http_timeout : 10) * 1000L;
	start_ms = et_mono_ms();

	h2 = curl_slist_append(NULL, "Accept: application/json");
	if (!h2)
		goto nomem;
	headers = h2;
	/* No "Expect: 100-continue" round trip (it costs up to a second on a small POST). */
	h2 = curl_slist_append(headers, "Expect:");
	if (!h2)
		goto nomem;
	headers = h2;
	if (form) {
		char ct[96];
		snprintf(ct, sizeof(ct), "Content-Type: %s", content_type);
		h2 = curl_slist_append(headers, ct);
		if (!h2)
			goto nomem;
		headers = h2;
	}
	if (bearer) {
		size_t n = strlen("Authorization: Bearer ") + strlen(bearer) + 1;
		char *line = malloc(n);
		if (!line)
			goto nomem;
		snprintf(line, n, "Authorization: Bearer %s", bearer);
		h2 = curl_slist_append(headers, line);
		explicit_bzero(line, n);
		free(line);
		if (!h2)
			goto nomem;
		headers = h2;
	}

	for (int attempt = 1; attempt <= attempts; attempt++) {
		long left_ms = budget_ms - (et_mono_ms() - start_ms);
		CURL *h;
		CURLcode rc;

		if (left_ms <= 0) {
			et_err_set(err, ET_E_HTTP_TIMEOUT, "%s %s: no answer within the %ld ms budget", method, host,
				   budget_ms);
			goto done;
		}
		h = curl_easy_init();
		if (!h)
			goto nomem;
		errbuf[0] = '\0';
		body_wipe(&b);
		if (handle_setup(h, cfg, url, form, headers, &b, errbuf) < 0) {
			curl_easy_cleanup(h);
			et_err_set(err, ET_E_HTTP_ERROR, "%s %s: libcurl rejected an option", method, host);
			goto done;
		}
		if (curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS,
				     left_ms < HTTP_CONNECT_MAX_MS ? left_ms : HTTP_CONNECT_MAX_MS) != CURLE_OK ||
		    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, left_ms) != CURLE_OK) {
			curl_easy_cleanup(h);
			et_err_set(err, ET_E_HTTP_ERROR, "%s %s: libcurl rejected a timeout", method, host);
			goto done;
		}
		rc = curl_easy_perform(h);
		status = 0;
		if (rc == CURLE_OK)
			curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
		curl_easy_cleanup(h);

		if (attempt < attempts) {
			bool retry = (rc == CURLE_COULDNT_CONNECT) || (rc == CURLE_OK && status_retryable(status));
			long after_ms = budget_ms - (et_mono_ms() - start_ms) - HTTP_RETRY_BACKOFF_MS;
			if (retry && after_ms >= HTTP_RETRY_MIN_LEFT_MS) {
				et_sleep_ms(HTTP_RETRY_BACKOFF_MS);
				continue;
			}
		}
		if (rc != CURLE_OK) {
			transfer_error(rc, &b, method, host, errbuf, budget_ms, err);
			goto done;
		}
		break;
	}

	if (!b.data) {
		b.data = calloc(1, 1);
		if (!b.data)
			goto nomem;
		b.cap = 1;
	}
	ret->status = status;
	ret->body = b.data;
	ret->len = b.len;
	b.data = NULL;
	r = 0;
	goto done;

nomem:
	et_err_set(err, ET_E_HTTP_ERROR, "%s %s: out of memory", method, host);
done:
	body_wipe(&b);
	headers_free_wiped(headers);
	return r;
}

int et_http_get(const struct et_config *cfg, const char *url, struct et_http_resp *ret, struct et_err *err)
{
	return http_request(cfg, url, NULL, NULL, NULL, ret, err);
}

int et_http_post_form(const struct et_config *cfg, const char *url, const char *form, struct et_http_resp *ret,
		      struct et_err *err)
{
	if (!form)
		return et_err_set(err, ET_E_HTTP_ERROR, "POST without a body");
	return http_request(cfg, url, form, "application/x-www-form-urlencoded", NULL, ret, err);
}

/* A bearer token is a token68 (RFC 6750 §2.1): anything else would break the header line. */
static bool bearer_ok(const char *t)
{
	size_t n = 0;
	if (!t)
		return false;
	for (const unsigned char *p = (const unsigned char *)t; *p; p++, n++)
		if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-' ||
		      *p == '.' || *p == '_' || *p == '~' || *p == '+' || *p == '/' || *p == '='))
			return false;
	return n > 0 && n <= ET_HTTP_BEARER_MAX;
}

int et_http_get_bearer(const struct et_config *cfg, const char *url, const char *bearer, struct et_http_resp *ret,
		       struct et_err *err)
{
	if (!bearer_ok(bearer))
		return et_err_set(err, ET_E_HTTP_ERROR, "GET refused: the access token is not a bearer token");
	return http_request(cfg, url, NULL, NULL, bearer, ret, err);
}

int et_http_post_json_bearer(const struct et_config *cfg, const char *url, const char *bearer, const char *json,
			     struct et_http_resp *ret, struct et_err *err)
{
	if (!json)
		return et_err_set(err, ET_E_HTTP_ERROR, "POST without a body");
	if (!bearer_ok(bearer))
		return et_err_set(err, ET_E_HTTP_ERROR, "POST refused: the access token is not a bearer token");
	return http_request(cfg, url, json, "application/json", bearer, ret, err);
}

void et_http_resp_free(struct et_http_resp *resp)
{
	if (!resp)
		return;
	if (resp->body) {
		/* Token endpoint answers carry tokens. */
		explicit_bzero(resp->body, resp->len);
		free(resp->body);
	}
	resp->body = NULL;
	resp->len = 0;
	resp->status = 0;
}

/* RFC 3986 unreserved characters stay; everything else, space included, becomes %XX. No
 * ctype: the result must not depend on the caller's locale. */
static bool form_unreserved(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
	       c == '_' || c == '~';
}

char *et_http_form_escape(const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n, len;
	char *out, *o;

	if (!s)
		return NULL;
	len = strlen(s);
	if (len > (SIZE_MAX - 1) / 3)
		return NULL;
	n = 0;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		n += form_unreserved(*p) ? 1 : 3;
	out = malloc(n + 1);
	if (!out)
		return NULL;
	o = out;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (form_unreserved(*p)) {
			*o++ = (char)*p;
		} else {
			*o++ = '%';
			*o++ = hex[*p >> 4];
			*o++ = hex[*p & 0xf];
		}
	}
	*o = '\0';
	return out;
}
