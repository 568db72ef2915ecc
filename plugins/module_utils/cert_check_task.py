# Copyright: chat_callback.mtls contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ``cert_check`` task: its options and its result, shared by the module and the action plugin.

The action plugin runs the checks inside Ansible's worker process when the task runs on the
controller, the module everywhere else. Both validate the options with :func:`argument_spec`
and :data:`ARGUMENT_CONSTRAINTS` and build the result with :func:`task_result`, so that a
playbook cannot tell where the checks ran.
"""

from __future__ import absolute_import, division, print_function  # noqa: UP010

__metaclass__ = type  # noqa: UP001

from ansible_collections.chat_callback.mtls.plugins.module_utils.cert_checks import check_params, read_file, summarize

# Parsed public facts help the operator of a failed check; the PEM texts are only handed out
# for a good bundle.
_FACTS_ON_FAILURE = ("certificate", "client_cas", "private_key_encrypted")


def task_result(params, basedir=None, reader=read_file):
    """Run the checks on validated ``params``; returns ``(result, warnings)``.

    ``result`` holds ``failed: True`` when a problem was found, then also ``msg``, ``problems``
    and ``problem_codes``. Relative paths are read from ``basedir`` when given (the action
    plugin passes the directory the module would have run in), every file with ``reader`` (the
    action plugin's decrypts Ansible Vault files).
    """
    warnings = []
    facts, problems = check_params(params, warnings=warnings, basedir=basedir, reader=reader)
    if not problems:
        return dict(facts, changed=False), warnings
    result = dict(
        changed=False,
        failed=True,
        msg=summarize(problems),
        problems=[p.message for p in problems],
        problem_codes=[p.code for p in problems],
        server_chain_verified=facts.get("server_chain_verified", False),
    )
    for name in _FACTS_ON_FAILURE:
        if name in facts:
            result[name] = facts[name]
    return result, warnings
