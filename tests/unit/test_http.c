/* SPDX-License-Identifier: Apache-2.0 */
/* The HTTPS client against the mock Entra ID and a small TLS fixture server of our own (for
 * what the mock cannot do: a certificate for the wrong name, bodies at and over the cap,
 * echoing the request, redirects). Run through test_http.sh (with-mock.sh). */
#include "conf.h"
#include "fsutil.h"
#include "http.h"
#include "mockutil.h"
#include "tap.h"
#include "testutil.h"
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char *mock_base, *mock_tenant, *mock_client;
static char *tmp;

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- a TLS fixture server ---- */

/* A CA of our own and two server certificates from it: one for IP 127.0.0.1, one for the
 * name wrong.example only. */
static void make_certs(const char *dir)
{
	char cmd[4096];
	snprintf(cmd, sizeof(cmd),
		 "set -e; cd '%s'; "
		 "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key -out ca.pem "
		 "-subj /CN=fixture-ca -days 2 -addext basicConstraints=critical,CA:TRUE "
		 "-addext keyUsage=critical,keyCertSign >/dev/null 2>&1; "
		 "for n in good wrong; do "
		 "openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout $n.key -out $n.csr "
		 "-subj /CN=$n >/dev/null 2>&1; done; "
		 "printf 'subjectAltName=IP:127.0.0.1\\n' >good.ext; "
		 "printf 'subjectAltName=DNS:wrong.example\\n' >wrong.ext; "
		 "for n in good wrong; do "
		 "openssl x509 -req -in $n.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out $n.pem -days 2 "
		 "-extfile $n.ext >/dev/null 2>&1; done",
		 dir);
	if (system(cmd) != 0) {
		printf("Bail out! cannot make test certificates with the openssl command\n");
		exit(1);
	}
}

struct fixture {
	pid_t pid;
	int port;
};

/* The fixture server (Python's http.server over ssl): one request per connection.
 *   /echo        200, the body is the request line, headers and body as received
 *   /size/N      200, N filler bytes with a Content-Length
 *   /stream/N    200, N filler bytes, no length, ended by closing the connection
 *   /redirect    302 to /echo
 *   /gzip        200 with Content-Encoding: gzip and bytes that must arrive undecoded */
static const char fixture_py[] =
	"import os, re, ssl, sys\n"
	"from http.server import HTTPServer, BaseHTTPRequestHandler\n"
	"d, name = sys.argv[1], sys.argv[2]\n"
	"GZ = b'\\x1f\\x8b\\x08\\x00\\x00\\x00\\x00\\x00\\x00\\x03not-really-gzip'\n"
	"class H(BaseHTTPRequestHandler):\n"
	"    protocol_version = 'HTTP/1.1'\n"
	"    def log_message(self, *a): pass\n"
	"    def reply(self, status, body, extra=(), length=True):\n"
	"        self.send_response(status)\n"
	"        for k, v in extra: self.send_header(k, v)\n"
	"        if length: self.send_header('Content-Length', str(len(body)))\n"
	"        self.send_header('Connection', 'close')\n"
	"        self.end_headers()\n"
	"        self.wfile.write(body)\n"
	"        self.close_connection = True\n"
	"    def do_POST(self): self.do_GET()\n"
	"    def do_GET(self):\n"
	"        n = int(self.headers.get('Content-Length') or 0)\n"
	"        body = self.rfile.read(n) if n else b''\n"
	"        m = re.fullmatch(r'/(size|stream)/([0-9]+)', self.path)\n"
	"        if self.path == '/echo':\n"
	"            raw = (self.requestline + '\\r\\n' + ''.join('%s: %s\\r\\n' % kv for kv in self.headers.items())\n"
	"                   + '\\r\\n').encode('latin-1') + body\n"
	"            self.reply(200, raw)\n"
	"        elif m:\n"
	"            self.reply(200, b'x' * int(m.group(2)), length=(m.group(1) == 'size'))\n"
	"        elif self.path == '/redirect':\n"
	"            self.reply(302, b'moved', [('Location', 'https://127.0.0.1:%d/echo' % self.server.server_port)])\n"
	"        elif self.path == '/gzip':\n"
	"            self.reply(200, GZ, [('Content-Encoding', 'gzip')])\n"
	"        else:\n"
	"            self.reply(404, b'')\n"
	"class S(HTTPServer):\n"
	"    def handle_error(self, request, address): pass\n"
	"srv = S(('127.0.0.1', 0), H)\n"
	"ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)\n"
	"ctx.load_cert_chain(os.path.join(d, name + '.pem'), os.path.join(d, name + '.key'))\n"
	"srv.socket = ctx.wrap_socket(srv.socket, server_side=True)\n"
	"tmp = os.path.join(d, name + '.port.tmp')\n"
	"open(tmp, 'w').write(str(srv.server_port))\n"
	"os.rename(tmp, os.path.join(d, name + '.port'))\n"
	"srv.serve_forever()\n";

static void fixture_start(struct fixture *f, const char *dir, const char *name)
{
	char script[1024], portfile[1024];
	FILE *pf;

	snprintf(script, sizeof(script), "%s/fixture.py", dir);
	snprintf(portfile, sizeof(portfile), "%s/%s.port", dir, name);
	if (access(script, F_OK) != 0)
		free(tu_write_file(dir, "fixture.py", fixture_py, 0600));
	fflush(stdout);
	f->pid = fork();
	if (f->pid < 0)
		exit(1);
	if (f->pid == 0) {
		execl("/usr/bin/python3", "python3", script, dir, name, (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 400 && access(portfile, F_OK) != 0; i++)
		usleep(25000);
	pf = fopen(portfile, "r");
	if (!pf || fscanf(pf, "%d", &f->port) != 1) {
		printf("Bail out! the TLS fixture server did not start\n");
		exit(1);
	}
	fclose(pf);
}

static void fixture_stop(struct fixture *f)
{
	if (f->pid > 0) {
		kill(f->pid, SIGTERM);
		waitpid(f->pid, NULL, 0);
	}
	f->pid = 0;
}

/* ---- the tests ---- */

static char *discovery_url(void)
{
	return mu_str_of("%s/%s/v2.0/.well-known/openid-configuration", mock_base, mock_tenant);
}

/* The mock's configuration, trusting only the test CA made in fixdir. */
static void cfg_with_test_ca(struct et_config *cfg, const char *fixdir)
{
	mu_cfg_load(cfg);
	mu_cfg_set(cfg, "ca_file", mu_str_of("%s/ca.pem", fixdir));
}

/* GET url answers with HTTP status want. */
static bool got_status(const struct et_config *cfg, const char *url, struct et_http_resp *resp, struct et_err *err,
		       int want)
{
	return et_http_get(cfg, url, resp, err) == 0 && resp->status == want;
}

/* GET url fails with reason. */
static bool refused(const struct et_config *cfg, const char *url, struct et_http_resp *resp, struct et_err *err,
		    const char *reason)
{
	return et_http_get(cfg, url, resp, err) < 0 && strcmp(err->reason, reason) == 0;
}

static void test_scheme(void)
{
	struct et_config cfg;
	struct et_http_resp resp = { 0 };
	struct et_err err = { 0 };
	const char *bad[] = { "http://127.0.0.1/x", "ftp://127.0.0.1/x", "",
			      "https://",	    "127.0.0.1:443/x",	 "file:///etc/passwd" };

	mu_cfg_load(&cfg);
	mu_mock_reset();
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		et_err_clear(&err);
		ok(refused(&cfg, bad[i], &resp, &err, "http_scheme"),
		   "GET '%s' refused with http_scheme (%s)", bad[i], err.reason);
	}
	et_err_clear(&err);
	ok(refused(&cfg, NULL, &resp, &err, "http_scheme"),
	   "GET of a NULL URL refused with http_scheme");
	/* The mock's own discovery over plain http: refused before any connection. */
	et_err_clear(&err);
	{
		char *plain = strdup(discovery_url());
		memmove(plain + 4, plain + 5, strlen(plain + 5) + 1); /* https -> http */
		ok(refused(&cfg, plain, &resp, &err, "http_scheme"),
		   "the mock's discovery URL over http:// is refused");
		free(plain);
	}
	is_int(mu_mock_stat("discovery"), 0, "no request reached the mock for a refused scheme");
	et_err_clear(&err);
	ok(et_http_post_form(&cfg, "http://127.0.0.1/token?code=SECRETQ", "password=SECRETF", &resp, &err) < 0 &&
		   strcmp(err.reason, "http_scheme") == 0,
	   "POST over http:// refused with http_scheme");
	ok(!strstr(err.message, "SECRET"), "the refusal does not repeat the URL's query or the form (%s)", err.message);
	ok(resp.body == NULL, "nothing is returned on failure");
	et_config_free(&cfg);
}

static void test_get_ok(void)
{
	struct et_config cfg;
	struct et_http_resp resp = { 0 };
	struct et_err err = { 0 };

	mu_cfg_load(&cfg);
	mu_mock_reset();
	ok(et_http_get(&cfg, discovery_url(), &resp, &err) == 0, "GET discovery from the mock (%s)", err.message);
	is_int(resp.status, 200, "status 200");
	ok(resp.body && strstr(resp.body, "\"issuer\"") != NULL, "the body is the discovery document");
	ok(resp.body && strlen(resp.body) == resp.len, "the body is NUL-terminated at len");
	et_http_resp_free(&resp);
	ok(resp.body == NULL && resp.len == 0, "et_http_resp_free clears the response");
	et_http_resp_free(&resp); /* twice is harmless */
	et_http_resp_free(NULL);

	/* A non-2xx answer is an answer, not a failure: Entra's errors live in 400 bodies. */
	ok(et_http_get(&cfg, mu_str_of("%s/not-a-tenant/v2.0/.well-known/openid-configuration", mock_base), &resp,
		       &err) == 0,
	   "GET for an unknown tenant returns normally");
	is_int(resp.status, 400, "with the mock's HTTP 400");
	ok(resp.body && strstr(resp.body, "AADSTS90002"), "and Entra's error body");
	et_http_resp_free(&resp);

	/* The scheme check is case-insensitive, like URLs. */
	{
		char *upper = strdup(discovery_url());
		memcpy(upper, "HTTPS", 5);
		ok(got_status(&cfg, upper, &resp, &err, 200), "HTTPS:// in capitals works");
		et_http_resp_free(&resp);
		free(upper);
	}
	et_config_free(&cfg);
}

static void test_tls(const char *fixdir, const struct fixture *good, const struct fixture *wrong)
{
	struct et_config cfg;
	struct et_http_resp resp = { 0 };
	struct et_err err = { 0 };


	/* The mock's certificate is not from this CA. */
	cfg_with_test_ca(&cfg, fixdir);
	ok(refused(&cfg, discovery_url(), &resp, &err, "http_tls"),
	   "a server certificate from another CA: http_tls (%s)", err.message);
	ok(strstr(err.message, "127.0.0.1") != NULL, "the sentence names the host");

	/* Same CA, right name: works (so the next failure is about the name alone). */
	et_err_clear(&err);
	ok(got_status(&cfg, mu_str_of("https://127.0.0.1:%d/echo", good->port), &resp, &err, 200),
	   "the fixture's certificate for 127.0.0.1 is accepted with its CA (%s)", err.message);
	et_http_resp_free(&resp);
	et_err_clear(&err);
	ok(refused(&cfg, mu_str_of("https://127.0.0.1:%d/echo", wrong->port), &resp, &err, "http_tls"),
	   "a certificate for wrong.example served at 127.0.0.1: http_tls (%s)", err.message);
	et_config_free(&cfg);

	/* Without ca_file the system store is used, and it does not know the test CA. */
	mu_cfg_load(&cfg);
	mu_cfg_set(&cfg, "ca_file", "");
	et_err_clear(&err);
	ok(cfg.ca_file == NULL, "ca_file unset");
	ok(refused(&cfg, discovery_url(), &resp, &err, "http_tls"),
	   "without ca_file the mock's test CA is not trusted: http_tls");
	/* Nor does the environment get to add a CA. */
	setenv("SSL_CERT_FILE", getenv("ET_MOCK_CA"), 1);
	setenv("SSL_CERT_DIR", getenv("ET_MOCK_DIR"), 1);
	setenv("CURL_CA_BUNDLE", getenv("ET_MOCK_CA"), 1);
	et_err_clear(&err);
	ok(refused(&cfg, discovery_url(), &resp, &err, "http_tls"),
	   "SSL_CERT_FILE, SSL_CERT_DIR, CURL_CA_BUNDLE naming the mock's CA are ignored: http_tls");
	unsetenv("SSL_CERT_FILE");
	unsetenv("SSL_CERT_DIR");
	unsetenv("CURL_CA_BUNDLE");
	et_config_free(&cfg);
}

static void test_connect(void)
{
	struct et_config cfg;
	struct et_http_resp resp = { 0 };
	struct et_err err = { 0 };
	int port = mu_closed_port();
	double t0, get_s, post_s;

	mu_cfg_load(&cfg);
	t0 = now_s();
	ok(refused(&cfg, mu_str_of("https://127.0.0.1:%d/x", port), &resp, &err, "http_connect"),
	   "connection refused: http_connect (%s)", err.message);
	get_s = now_s() - t0;
	ok(strstr(err.message, mu_str_of("127.0.0.1:%d", port)) != NULL, "the sentence names host and port");

	et_err_clear(&err);
	t0 = now_s();
	ok(et_http_post_form(&cfg, mu_str_of("https://127.0.0.1:%d/token?code=SECRETQ", port), "password=SECRETF", &resp,
			     &err) < 0 &&
		   strcmp(err.reason, "http_connect") == 0,
	   "POST, connection refused: http_connect");
	post_s = now_s() - t0;
	ok(!strstr(err.message, "SECRET") && !strstr(err.message, "token?"),
	   "a failed POST's sentence carries neither the query nor the form (%s)", err.message);
	/* A refused GET is tried again after a short pause; a POST never is. */
	ok(get_s >= 0.19, "the refused GET was retried after a pause (%.3f s)", get_s);
	ok(post_s < 0.19, "the refused POST was not retried (%.3f s)", post_s);

	et_err_clear(&err);
	ok(refused(&cfg, "https://nonexistent.invalid/x", &resp, &err, "http_connect"),
	   "an unresolvable name: http_connect (%s)", err.reason);
	et_config_free(&cfg);
}

static void test_timeout(void)
{
	struct et_config cfg;
	struct et_http_resp resp = { 0 };
	struct et_err err = { 0 };
	double t0, el;

	mu_cfg_load(&cfg);
	mu_cfg_set(&cfg, "http_timeout", "1s");
	mu_mock_reset();
	mu_ctl("latency", "{\"seconds\": 3, \"endpoints\": [\"discovery\"]}");
	t0 = now_s();
	ok(refused(&cfg, discovery_url(), &resp, &err, "http_timeout"),
	   "a server slower than http_timeout: http_timeout (%s)", err.message);
	el = now_s() - t0;
	ok(el < 2.0, "gave up within the budget plus a second (%.2f s for a 1 s budget)", el);
	ok(el >= 0.9, "but not before the budget was spent (%.2f s)", el);
	is_int(mu_mock_stat("discovery"), 1, "a timed-out GET is not retried");

	/* The budget covers the retry too: 0.7 s for a 503 leaves too little for a second try. */
	mu_mock_reset();
	mu_ctl("latency", "{\"seconds\": 0.7, \"endpoints\": [\"discovery\"]}");
	mu_ctl("fail", "{\"status\": 503, \"count\": -1, \"endpoints\": [\"discovery\"]}");
	t0 = now_s();
	ok(got_status(&cfg, discovery_url(), &resp, &err, 503),
	   "a slow 503 is returned as such");
	el = now_s() - t0;
	et_http_resp_free(&resp);
	is_int(mu_mock_stat("discovery"), 1, "no retry when the budget would not allow it");
	ok(el < 1.2, "within the budget (%.2f s)", el);
	mu_mock_reset();
	et_config_free(&cfg);
}

static void test_retry(void)
{
	struct et_config cfg;
	struct et_http_resp resp = { 0 };
	struct et_err err = { 0 };
	char *token = mu_str_of("%s/%s/oauth2/v2.0/token", mock_base, mock_tenant);

	mu_cfg_load(&cfg);

	/* GET retries a gateway error once; POST never retries */
	{
		static const struct {
			int status, count; /* the mock answers status, count times (-1: always) */
			int post;          /* POST a form to the token endpoint, otherwise GET discovery */
			int want;          /* the status returned */
			const char *name;
			int requests;      /* requests the mock saw, -1: not checked */
			const char *requests_name;
		} cases[] = {
			{ 503, 1, 0, 200, "GET: one 503, then success on the retry", 2, "the mock saw two requests" },
			{ 502, -1, 0, 502, "GET: 502 twice returns the second 502", 2, "retried exactly once" },
			{ 504, 1, 0, 200, "GET: 504 is retried too", -1, NULL },
			{ 500, -1, 0, 500, "GET: 500 is returned", 1, "and not retried (not a gateway error)" },
			{ 503, -1, 1, 503, "POST: 503 is returned", 1, "a POST is never retried" },
		};
		for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
			const char *endpoint = cases[i].post ? "token" : "discovery";
			int r;
			mu_mock_reset();
			mu_ctlf("fail", "{\"status\": %d, \"count\": %d, \"endpoints\": [\"%s\"]}", cases[i].status,
				cases[i].count, endpoint);
			if (cases[i].post)
				r = et_http_post_form(&cfg, token, "grant_type=password", &resp, &err);
			else
				r = et_http_get(&cfg, discovery_url(), &resp, &err);
			ok(r == 0 && resp.status == cases[i].want, "%s", cases[i].name);
			if (cases[i].requests >= 0)
				is_int(mu_mock_stat(endpoint), cases[i].requests, cases[i].requests_name);
			et_http_resp_free(&resp);
		}
	}

	/* An ordinary POST reaches the token endpoint and returns Entra's 400. */
	mu_mock_reset();
	{
		char *form = NULL;
		if (asprintf(&form, "grant_type=password&client_id=%s&username=nobody%%40contoso.com&password=x",
			     mock_client) < 0)
			abort();
		ok(et_http_post_form(&cfg, token, form, &resp, &err) == 0 && resp.status == 400,
		   "POST a form to the token endpoint: HTTP 400 returned, not a failure");
		ok(resp.body && strstr(resp.body, "\"error\""), "with Entra's error body");
		is_int(mu_mock_stat("token"), 1, "one request");
		et_http_resp_free(&resp);
		free(form);
	}
	mu_mock_reset();
	et_config_free(&cfg);
}

static void test_size(const char *fixdir, const struct fixture *good)
{
	struct et_config cfg;
	struct et_http_resp resp = { 0 };
	struct et_err err = { 0 };

	cfg_with_test_ca(&cfg, fixdir);

	{
		static const struct {
			const char *path; /* size: sent with a Content-Length; stream: without */
			long len;
			const char *reason; /* NULL: accepted, all of it */
			const char *name;
			int with_message; /* the name ends with the error message */
		} cases[] = {
			{ "size", ET_HTTP_MAX_BODY, NULL,
			  "a body of exactly ET_HTTP_MAX_BODY with a length is accepted", 1 },
			{ "stream", ET_HTTP_MAX_BODY, NULL,
			  "a body of exactly ET_HTTP_MAX_BODY without a length is accepted", 1 },
			{ "size", ET_HTTP_MAX_BODY + 1, "http_too_large",
			  "one byte over, announced by Content-Length: http_too_large", 1 },
			{ "stream", ET_HTTP_MAX_BODY + 1, "http_too_large",
			  "one byte over, streamed without a length: http_too_large", 1 },
			{ "stream", 4 * ET_HTTP_MAX_BODY, "http_too_large",
			  "a body four times the cap: http_too_large", 0 },
		};
		for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
			const char *url;
			bool pass;
			url = mu_str_of("https://127.0.0.1:%d/%s/%ld", good->port, cases[i].path, cases[i].len);
			et_err_clear(&err);
			if (cases[i].reason)
				pass = refused(&cfg, url, &resp, &err, cases[i].reason);
			else
				pass = et_http_get(&cfg, url, &resp, &err) == 0;
			if (cases[i].with_message)
				ok(pass, "%s (%s)", cases[i].name, err.message);
			else
				ok(pass, "%s", cases[i].name);
			if (!cases[i].reason) {
				is_int(resp.len, ET_HTTP_MAX_BODY, "all of it");
				et_http_resp_free(&resp);
			}
		}
	}
	ok(resp.body == NULL, "nothing returned");
	et_config_free(&cfg);
}

static void test_proxy(void)
{
	const char *vars[] = { "https_proxy", "HTTPS_PROXY", "http_proxy", "ALL_PROXY", "all_proxy" };
	struct et_config cfg;
	struct et_http_resp resp = { 0 };
	struct et_err err = { 0 };
	int port = mu_closed_port();
	char *dead = strdup(mu_str_of("http://127.0.0.1:%d", port));

	for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++)
		setenv(vars[i], dead, 1);
	mu_cfg_load(&cfg);
	ok(got_status(&cfg, discovery_url(), &resp, &err, 200),
	   "https_proxy, HTTPS_PROXY, ALL_PROXY pointing at a dead port are ignored (%s)", err.message);
	et_http_resp_free(&resp);

	/* The configured proxy is used: a dead one makes the call fail. */
	mu_cfg_set(&cfg, "proxy", dead);
	et_err_clear(&err);
	ok(refused(&cfg, discovery_url(), &resp, &err, "http_connect"),
	   "the configured proxy is used (a dead one: http_connect, %s)", err.message);

	/* NO_PROXY from the environment cannot route around the configured proxy. */
	setenv("no_proxy", "*", 1);
	setenv("NO_PROXY", "*", 1);
	et_err_clear(&err);
	ok(refused(&cfg, discovery_url(), &resp, &err, "http_connect"),
	   "no_proxy=* in the environment does not bypass the configured proxy");
	for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++)
		unsetenv(vars[i]);
	unsetenv("no_proxy");
	unsetenv("NO_PROXY");
	et_config_free(&cfg);
	free(dead);
}

static void test_request_shape(const char *fixdir, const struct fixture *good)
{
	struct et_config cfg;
	struct et_http_resp resp = { 0 };
	struct et_err err = { 0 };
	static const char gz[] = "\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03not-really-gzip";

	cfg_with_test_ca(&cfg, fixdir);
	/* A ~/.netrc with credentials for the fixture: must not be read. */
	free(tu_write_file(fixdir, ".netrc", "machine 127.0.0.1 login netrcuser password netrcpass\n", 0600));
	setenv("HOME", fixdir, 1);
	setenv("NETRC", mu_str_of("%s/.netrc", fixdir), 1);

	ok(et_http_get(&cfg, mu_str_of("https://127.0.0.1:%d/echo", good->port), &resp, &err) == 0 && resp.body,
	   "GET /echo on the fixture");
	ok(resp.body && strncmp(resp.body, "GET /echo HTTP/1.1\r\n", 20) == 0, "a plain HTTP/1.1 GET");
	ok(resp.body && strstr(resp.body, "\r\nUser-Agent: pam_entra_tap/" PACKAGE_VERSION "\r\n"),
	   "User-Agent is pam_entra_tap/%s", PACKAGE_VERSION);
	ok(resp.body && !strcasestr(resp.body, "\r\nAccept-Encoding:"), "no Accept-Encoding is offered");
	ok(resp.body && !strcasestr(resp.body, "\r\nAuthorization:"), "~/.netrc is not used: no credentials sent");
	et_http_resp_free(&resp);

	{
		const char *form = "grant_type=password&password=p%26ss%20word";
		ok(et_http_post_form(&cfg, mu_str_of("https://127.0.0.1:%d/echo", good->port), form, &resp, &err) == 0 &&
			   resp.body,
		   "POST /echo on the fixture");
		ok(resp.body && strncmp(resp.body, "POST /echo HTTP/1.1\r\n", 21) == 0, "a POST");
		ok(resp.body && strcasestr(resp.body, "\r\nContent-Type: application/x-www-form-urlencoded\r\n"),
		   "form content type");
		ok(resp.body && !strcasestr(resp.body, "\r\nExpect:"), "no Expect: 100-continue");
		ok(resp.body && resp.len > strlen(form) && strcmp(resp.body + resp.len - strlen(form), form) == 0,
		   "the form arrives byte for byte");
		et_http_resp_free(&resp);
	}

	ok(got_status(&cfg, mu_str_of("https://127.0.0.1:%d/redirect", good->port), &resp, &err, 302),
	   "a redirect is returned, not followed");
	ok(resp.body && strcmp(resp.body, "moved") == 0, "with the redirect's own body");
	et_http_resp_free(&resp);

	ok(et_http_get(&cfg, mu_str_of("https://127.0.0.1:%d/gzip", good->port), &resp, &err) == 0 &&
		   resp.len == sizeof(gz) - 1 && memcmp(resp.body, gz, sizeof(gz) - 1) == 0,
	   "a gzip-encoded answer arrives undecoded (no decompression bombs)");
	et_http_resp_free(&resp);
	et_config_free(&cfg);
}

/* Under sudo the environment is the user's: libcurl must not be let to write TLS secrets to a
 * file the user names (it reads SSLKEYLOGFILE once, at global init). The variable is set only
 * around this first request: Python's ssl (mockctl) honours it too. */
static void test_keylog_env(const char *dir)
{
	struct et_config cfg;
	struct et_http_resp resp = { 0 };
	struct et_err err = { 0 };
	char *keylog;

	if (asprintf(&keylog, "%s/keylog.txt", dir) < 0)
		abort();
	mu_cfg_load(&cfg);
	setenv("SSLKEYLOGFILE", keylog, 1);
	ok(got_status(&cfg, discovery_url(), &resp, &err, 200),
	   "the first request, with SSLKEYLOGFILE set (%s)", err.message);
	et_http_resp_free(&resp);
	ok(access(keylog, F_OK) != 0, "SSLKEYLOGFILE from the environment was not used: no key log file");
	is_str(getenv("SSLKEYLOGFILE"), keylog, "and the variable is back in the environment as it was");
	ok(et_http_get(&cfg, discovery_url(), &resp, &err) == 0 && access(keylog, F_OK) != 0,
	   "a second request writes no key log either");
	et_http_resp_free(&resp);
	unsetenv("SSLKEYLOGFILE");
	free(keylog);
	et_config_free(&cfg);
}

struct escape_case {
	const char *in, *want, *name;
};

static void test_form_escape(void)
{
	static const struct escape_case cases[] = {
		{ "abcXYZ019-._~", "abcXYZ019-._~", "unreserved characters stay" },
		{ "a b&c=d+e/f?g%h#", "a%20b%26c%3Dd%2Be%2Ff%3Fg%25h%23", "form delimiters and space are encoded" },
		{ "\xc3\xa9\x01\x7f\xff", "%C3%A9%01%7F%FF", "bytes >= 0x80 and control bytes are encoded" },
		{ "", "", "empty stays empty" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *s = et_http_form_escape(cases[i].in);
		is_str(s, cases[i].want, cases[i].name);
		free(s);
	}
	ok(et_http_form_escape(NULL) == NULL, "NULL gives NULL");
}

/* ca_file must be a regular file, root's, writable by nobody else: a CA a user can write is
 * a user who can speak for the identity provider. */
static void test_ca_file(const char *fixdir)
{
	struct et_config cfg;
	struct et_http_resp resp = { 0 };
	struct et_err err = { 0 };
	char *pem = NULL, *copy = mu_str_of("%s/ca-copy.pem", fixdir), *link = mu_str_of("%s/ca-link.pem", fixdir);
	size_t len = 0;
	FILE *f;

	if (et_file_read(getenv("ET_MOCK_CA"), 1 << 20, 0, &pem, &len, &err) < 0 || !(f = fopen(copy, "we"))) {
		ok(0, "ca_file: cannot copy the mock's CA (%s)", err.message);
		free(pem);
		return;
	}
	fwrite(pem, 1, len, f);
	fclose(f);
	free(pem);
	mu_cfg_load(&cfg);
	mu_cfg_set(&cfg, "ca_file", copy);
	chmod(copy, 0644);
	et_err_clear(&err);
	ok(got_status(&cfg, discovery_url(), &resp, &err, 200), "ca_file: a copy of the CA, mode 0644, is used (%s)",
	   err.message);
	et_http_resp_free(&resp);
	chmod(copy, 0664);
	et_err_clear(&err);
	ok(refused(&cfg, discovery_url(), &resp, &err, "unsafe_file") && strstr(err.message, "group- or world-writable"),
	   "ca_file: group-writable is refused before any connection (%s)", err.message);
	chmod(copy, 0646);
	et_err_clear(&err);
	ok(refused(&cfg, discovery_url(), &resp, &err, "unsafe_file"), "ca_file: world-writable is refused (%s)",
	   err.message);
	chmod(copy, 0644);
	if (geteuid() == 0) {
		(void)!chown(copy, 65534, 65534);
		et_err_clear(&err);
		ok(refused(&cfg, discovery_url(), &resp, &err, "unsafe_file") && strstr(err.message, "not owned by root"),
		   "ca_file: a file owned by another user is refused (%s)", err.message);
		(void)!chown(copy, 0, 0);
	}
	(void)!symlink(copy, link);
	mu_cfg_set(&cfg, "ca_file", link);
	et_err_clear(&err);
	ok(refused(&cfg, discovery_url(), &resp, &err, "unsafe_file"), "ca_file: a symbolic link is refused (%s)",
	   err.message);
	mu_cfg_set(&cfg, "ca_file", fixdir);
	et_err_clear(&err);
	ok(refused(&cfg, discovery_url(), &resp, &err, "unsafe_file"), "ca_file: a directory is refused (%s)",
	   err.message);
	et_config_free(&cfg);
	unlink(link);
	unlink(copy);
}

int main(void)
{
	struct fixture good = { 0 }, wrong = { 0 };
	char *fixdir;

	mock_base = getenv("ET_MOCK_BASE");
	mock_tenant = getenv("ET_MOCK_TENANT");
	mock_client = getenv("ET_MOCK_CLIENT");
	if (!mock_base || !mock_tenant || !mock_client || !getenv("ET_MOCKCTL") || !getenv("ET_MOCK_CONFIG"))
		tap_skip_all("needs the mock Entra ID: run through test_http.sh");
	tmp = tu_tmpdir();
	fixdir = tmp;
	test_keylog_env(tmp); /* first: it needs libcurl not yet initialised */
	make_certs(fixdir);
	fixture_start(&good, fixdir, "good");
	fixture_start(&wrong, fixdir, "wrong");

	test_form_escape();
	test_scheme();
	test_get_ok();
	test_tls(fixdir, &good, &wrong);
	test_connect();
	test_timeout();
	test_retry();
	test_size(fixdir, &good);
	test_proxy();
	test_request_shape(fixdir, &good);
	test_ca_file(fixdir);

	fixture_stop(&good);
	fixture_stop(&wrong);
	return tap_done();
}
