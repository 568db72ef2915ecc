# Copyright: chat_callback.mtls contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""_textfile: the Prometheus text a textfile collector accepts, and when it is rewritten."""

from __future__ import annotations

import pytest

from ansible_collections.chat_callback.mtls.plugins.module_utils._textfile import MetricError, plan, render, stamp_value

LABELS = {"server_name": "www.example.com"}
SAMPLES = [
    {"name": "nginx_mtls_certificate_not_after_seconds", "help": "Expiry.", "labels": LABELS, "value": 1798761600},
    {"name": "nginx_mtls_client_ca_not_after_seconds", "help": "CA expiry.",
     "labels": dict(LABELS, subject='CN=Tencent "QQ"\\Auth'), "value": 1.5},
    {"name": "nginx_mtls_client_ca_not_after_seconds", "help": "CA expiry.",
     "labels": dict(LABELS, subject="CN=Second"), "value": 2000000000},
]
STAMP = {"name": "nginx_mtls_last_deploy_timestamp_seconds", "help": "Last change.", "labels": LABELS}


def test_render_groups_samples_with_help_and_type_and_escapes_labels():
    assert render(SAMPLES) == (
        "# HELP nginx_mtls_certificate_not_after_seconds Expiry.\n"
        "# TYPE nginx_mtls_certificate_not_after_seconds gauge\n"
        'nginx_mtls_certificate_not_after_seconds{server_name="www.example.com"} 1798761600\n'
        "# HELP nginx_mtls_client_ca_not_after_seconds CA expiry.\n"
        "# TYPE nginx_mtls_client_ca_not_after_seconds gauge\n"
        'nginx_mtls_client_ca_not_after_seconds{server_name="www.example.com",'
        'subject="CN=Tencent \\"QQ\\"\\\\Auth"} 1.5\n'
        'nginx_mtls_client_ca_not_after_seconds{server_name="www.example.com",subject="CN=Second"} 2000000000\n'
    )


@pytest.mark.parametrize(("sample", "message"), [
    ({"name": "nginx-mtls", "value": 1}, "not a valid metric name"),
    ({"name": "x", "labels": {"server name": "a"}, "value": 1}, "not a valid label name"),
    ({"name": "x", "labels": {"__name__": "a"}, "value": 1}, "not a valid label name"),
    ({"name": "x", "value": float("nan")}, "not a finite number"),
])
def test_render_refuses_what_prometheus_would(sample, message):
    with pytest.raises(MetricError, match=message):
        render([sample])


def test_the_stamp_is_set_once_and_kept_while_nothing_changes():
    first = plan(SAMPLES, STAMP, None, refresh=False, now=1000.7)
    assert stamp_value(first, STAMP["name"]) == 1000
    # a later run that changed nothing: nothing to write
    assert plan(SAMPLES, STAMP, first, refresh=False, now=5000) is None
    # the site changed: a new stamp
    assert stamp_value(plan(SAMPLES, STAMP, first, refresh=True, now=5000), STAMP["name"]) == 5000
    # another series differs (a file fixed by hand, a CA added): rewritten, the stamp kept
    other = plan(SAMPLES[:1], STAMP, first, refresh=False, now=5000)
    assert other is not None and stamp_value(other, STAMP["name"]) == 1000
