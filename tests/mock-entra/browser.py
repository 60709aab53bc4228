#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""A scripted browser for the mock Entra ID's verification page: it does what a person does
with the URL and code a device-code prompt showed them.

    browser.py --ca CA_FILE [--cancel] URL CODE ACCOUNT < PASS

It opens URL, and on each page fills in the visible fields the page asks for and presses its
button: the code on the first page; the account and the pass (read from the first line of
standard input, so that it never appears on a command line) on the second; on the
confirmation page it presses Continue (or Cancel with --cancel). Forms are posted exactly as
a browser posts them: the form's method and action, every named field, hidden ones included,
and the pressed button's name and value. Nothing here knows the mock's field names: fields
are recognised by their type (text, email, password) as a person recognises them by their
labels.

It prints what each page says and what it typed (the pass is never printed), for a person
or a test log. Exit status: 0 when the last page has no form and no error (signed in, or
cancelled with --cancel), 1 when a page shows an error (role="alert") or asks for something
unexpected, 2 for usage errors, 3 when the page cannot be reached.
"""

import argparse
import html.parser
import ssl
import sys
import urllib.error
import urllib.parse
import urllib.request

MAX_PAGES = 8
MAX_PAGE = 256 * 1024


class Page(html.parser.HTMLParser):
    """The parts of a page a person looks at: its text, its alert, its forms."""

    BLOCK = {"h1", "h2", "p", "dt", "li", "button", "form", "title", "div"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.lines = []       # visible text, one block per line
        self.alert = None
        self.forms = []       # {"method", "action", "inputs": [attrs], "buttons": [(name, value, text)]}
        self.labels = {}      # id -> label text
        self._text = []
        self._in = []         # open tags whose text we collect specially
        self._alert_depth = None
        self._alert_text = []
        self._label_for = None
        self._label_text = []
        self._button = None
        self._skip = 0        # inside <title>, <script>, <style>

    def _flush(self):
        t = " ".join("".join(self._text).split())
        if t:
            self.lines.append(t)
        self._text = []

    def handle_starttag(self, tag, attrs):
        a = {k: (v if v is not None else "") for k, v in attrs}
        if tag in ("title", "script", "style"):
            self._skip += 1
            return
        if tag in self.BLOCK:
            self._flush()
        if a.get("role") == "alert":
            self._alert_depth = tag
            self._alert_text = []
        if tag == "form":
            self.forms.append({"method": a.get("method", "get").lower(), "action": a.get("action", ""),
                               "inputs": [], "buttons": []})
        elif tag == "input" and self.forms:
            self.forms[-1]["inputs"].append(a)
            if a.get("type", "text").lower() not in ("hidden", "submit"):
                self._text.append(" [%s] " % a.get("type", "text").lower())
        elif tag == "button" and self.forms:
            self._button = [a.get("name"), a.get("value", ""), []]
        elif tag == "label":
            self._label_for = a.get("for")
            self._label_text = []

    def handle_endtag(self, tag):
        if tag in ("title", "script", "style"):
            self._skip = max(0, self._skip - 1)
            return
        if tag == "button" and self._button is not None and self.forms:
            name, value, text = self._button
            self.forms[-1]["buttons"].append((name, value, " ".join("".join(text).split())))
            self._text.append(" (%s) " % " ".join("".join(text).split()))
            self._button = None
        if tag == "label" and self._label_for:
            self.labels[self._label_for] = " ".join("".join(self._label_text).split())
            self._label_for = None
        if self._alert_depth == tag:
            self.alert = " ".join("".join(self._alert_text).split())
            self._alert_depth = None
        if tag == "dt":  # a term and its description make one line
            self._text.append(": ")
        elif tag in self.BLOCK or tag == "dd":
            self._flush()

    def handle_data(self, data):
        if self._skip:
            return
        if self._button is not None:
            self._button[2].append(data)
            return
        self._text.append(data)
        if self._alert_depth is not None:
            self._alert_text.append(data)
        if self._label_for:
            self._label_text.append(data)

    def close(self):
        super().close()
        self._flush()


def visible(inputs):
    return [i for i in inputs if i.get("type", "text").lower() not in ("hidden", "submit", "button")]


def say(text):
    print(text)
    sys.stdout.flush()


class Browser:
    def __init__(self, ca):
        self.ctx = ssl.create_default_context(cafile=ca)

    def load(self, url, data=None):
        req = urllib.request.Request(url, data=data, method="POST" if data is not None else "GET")
        if data is not None:
            req.add_header("Content-Type", "application/x-www-form-urlencoded")
        try:
            with urllib.request.urlopen(req, context=self.ctx, timeout=15) as resp:
                body = resp.read(MAX_PAGE + 1)
                final = resp.geturl()
        except urllib.error.HTTPError as e:  # a browser shows error pages too
            body, final = e.read(MAX_PAGE + 1), url
        if len(body) > MAX_PAGE:
            raise ValueError("the page is larger than %d bytes" % MAX_PAGE)
        page = Page()
        page.feed(body.decode("utf-8", "replace"))
        page.close()
        for line in page.lines:
            say("  | " + line)
        return page, final

    @staticmethod
    def submit_data(form, values, button=None):
        fields = []
        for i in form["inputs"]:
            name = i.get("name")
            if not name or i.get("type", "text").lower() in ("submit", "button"):
                continue
            fields.append((name, values.get(name, i.get("value", ""))))
        if button and button[0]:
            fields.append((button[0], button[1]))
        return urllib.parse.urlencode(fields).encode("ascii")


def main():
    ap = argparse.ArgumentParser(description="Sign in on the mock Entra ID's verification page.")
    ap.add_argument("--ca", required=True, help="the mock's test CA")
    ap.add_argument("--cancel", action="store_true", help="press Cancel on the confirmation page")
    ap.add_argument("url")
    ap.add_argument("code")
    ap.add_argument("account")
    opts = ap.parse_args()
    secret = sys.stdin.readline().rstrip("\r\n")

    b = Browser(opts.ca)
    url = opts.url
    try:
        say("browser: opens %s" % url)
        page, url = b.load(url)
        for _ in range(MAX_PAGES):
            if page.alert:
                say("browser: the page says: %s" % page.alert)
                return 1
            if not page.forms:
                say("browser: done")
                return 0
            form = page.forms[0]
            fields = visible(form["inputs"])
            kinds = [f.get("type", "text").lower() for f in fields]
            values = {}
            button = form["buttons"][0] if form["buttons"] else None
            if kinds == ["text"]:
                values[fields[0].get("name")] = opts.code
                say("browser: types the code %s into '%s' and presses %s" % (
                    opts.code, page.labels.get(fields[0].get("id"), "?"), button[2] if button else "Enter"))
            elif sorted(kinds) in (["email", "password"], ["password", "text"]):
                for f in fields:
                    values[f.get("name")] = secret if f.get("type", "").lower() == "password" else opts.account
                say("browser: types %s and the pass (not shown) and presses %s" % (
                    opts.account, button[2] if button else "Enter"))
            elif not fields and len(form["buttons"]) >= 2:
                want = "cancel" if opts.cancel else "continue"
                button = next((x for x in form["buttons"] if x[2].lower() == want), None)
                if button is None:
                    say("browser: the page offers no %s button" % want.capitalize())
                    return 1
                say("browser: presses %s" % button[2])
            else:
                say("browser: the page asks for something unexpected (%s)" % ", ".join(kinds))
                return 1
            target = urllib.parse.urljoin(url, form["action"] or url)
            if form["method"] != "post":
                say("browser: the form is not posted (method %s)" % form["method"])
                return 1
            page, url = b.load(target, Browser.submit_data(form, values, button))
        say("browser: still not done after %d pages" % MAX_PAGES)
        return 1
    except (urllib.error.URLError, OSError, ValueError) as e:
        say("browser: cannot load %s: %s" % (url, e))
        return 3


if __name__ == "__main__":
    sys.exit(main())
