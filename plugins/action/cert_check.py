# Copyright: chat_callback.mtls contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin of chat_callback.mtls.cert_check: on the controller, check without a new Python.

cert_check mostly runs on the controller, once per host of a fleet (``delegate_to: localhost``).
As a module every run starts a Python, unpacks AnsiballZ and imports Ansible's module_utils and
cryptography again: most of a second for checks of a few milliseconds. When the task runs
through the local connection without become, the worker process that runs the task for Ansible
does the checks itself, with the module's argument spec and result (module_utils/cert_check_task.py).
Everywhere else the module runs exactly as it would without this plugin.

Files on the controller may be encrypted with Ansible Vault, as ``ansible.builtin.copy`` accepts
them: in the worker process every path is read through Ansible's loader, which decrypts them; a
module run through the local connection (become, async) gets a vaulted file's decrypted text as
the ``*_content`` option instead of its path. A decrypted copy exists only while it is read.
"""

from __future__ import absolute_import, division, print_function  # noqa: UP010

__metaclass__ = type  # noqa: UP001

import os

from ansible import constants as C
from ansible.errors import AnsibleError
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.module_utils.common.text.converters import to_native, to_text
from ansible.module_utils.common.parameters import remove_values
from ansible.module_utils.errors import UnsupportedError
from ansible.parsing.vault import is_encrypted_file
from ansible.plugins.action import ActionBase
from ansible.utils.display import Display
from ansible.utils.vars import merge_hash

from ansible_collections.chat_callback.mtls.plugins.module_utils._cert_options import (
    ARGUMENT_CONSTRAINTS,
    argument_spec,
)
from ansible_collections.chat_callback.mtls.plugins.module_utils.cert_check_task import task_result
from ansible_collections.chat_callback.mtls.plugins.module_utils.cert_checks import HAS_CRYPTOGRAPHY, MAX_INPUT_SIZE

display = Display()

MODULE = "chat_callback.mtls.cert_check"
# The options that name a file; each has a <option>_content twin.
PATH_OPTIONS = ("certificate", "private_key", "client_ca", "server_ca")


class ActionModule(ActionBase):

    _supports_check_mode = True  # nothing is ever changed, as in the module
    _supports_async = True  # async runs the module

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        del tmp  # no longer has any effect

        reason = self._module_needed()
        if reason is None:
            display.vvv(f"{MODULE}: checking in the controller's worker process (local connection, no become)",
                        host=self._play_context.remote_addr)
            return merge_hash(result, self._check_in_process(task_vars))
        display.vvv(f"{MODULE}: running the module: {reason}", host=self._play_context.remote_addr)
        try:
            module_args = self._module_args(local=self._connection.transport == "local")
        except AnsibleError as exc:
            return merge_hash(result, dict(failed=True, changed=False, msg=to_native(exc.message)))
        return merge_hash(result, self._run_module(task_vars, module_args))

    def _module_needed(self):
        """Why the module must run (a short reason), or None when the checks can run here."""
        transport = self._connection.transport
        if transport != "local":
            # ansible-core's own test for "commands run on the controller" (cwd, reboot guard)
            return f"the {transport} connection"
        # The connection's become plugin is what wraps a module in sudo/su; it is set, or cleared,
        # for every task from the (delegated) host's ansible_become and the become keyword.
        become = self._connection.become if hasattr(self._connection, "become") else self._play_context.become
        if become:
            # the become user may read files the controller user can't, and the other way round
            return "become"
        if self._task.async_val:
            return "async"
        environment = {}
        self._compute_environment_string(environment)
        if environment:
            # the module would see these variables ($VAR in paths, SSL_CERT_FILE); this process does not
            return "the environment keyword"
        if not HAS_CRYPTOGRAPHY:
            # the module's interpreter may have it; if not, the module says how to install it
            return "ansible-core's Python cannot import cryptography"
        return None

    def _check_in_process(self, task_vars):
        # What AnsibleModule does with the arguments, then main() of the module.
        params = dict(self._task.args)
        validation = ArgumentSpecValidator(argument_spec(), **ARGUMENT_CONSTRAINTS).validate(params)
        params.update(validation.validated_parameters)
        if validation.error_messages:
            msg = validation.errors.msg
            if isinstance(validation.errors[0], UnsupportedError):
                msg = f"Unsupported parameters for ({MODULE}) module: {msg}"
            result = dict(failed=True, msg=msg)
        else:
            # The module runs in the directory local commands run in, so relative paths are read from there.
            result, warnings = task_result(params, basedir=self._loader.get_basedir(), reader=self._read)
            if warnings:
                result["warnings"] = warnings
        if _invocation_wanted(task_vars):
            result["invocation"] = dict(module_args=params)
        return _hide_no_log_values(result, validation._no_log_values)

    def _read(self, path, max_size):
        """cert_checks' file reader, through the loader: Vault files are decrypted."""
        try:
            real = self._loader.get_real_file(path, decrypt=True)
        except AnsibleError as exc:
            # the vault secret is missing or wrong: not a problem of the file's content
            raise OSError(None, f"it is encrypted with Ansible Vault and cannot be decrypted ({exc.message})") from None
        try:
            with open(real, "rb") as handle:
                return handle.read(max_size)
        finally:
            if real != path:
                self._loader.cleanup_tmp_file(real)

    def _module_args(self, local):
        """The task's arguments for the module: through the local connection, vaulted files as content."""
        args = self._task.args.copy()
        for option in PATH_OPTIONS if local else ():
            path = args.get(option)
            if not path or path == "system" or f"{option}_content" in args:
                continue
            where = os.path.join(self._loader.get_basedir(), path)
            if not (self._loader.is_file(where) and _is_vaulted(where)):
                continue
            try:
                data = self._read(where, MAX_INPUT_SIZE + 1)
            except OSError as exc:
                raise AnsibleError(f"{option} ({path}): {exc.strerror}") from None
            try:
                args[f"{option}_content"] = to_text(data, errors="strict")
            except UnicodeError:
                raise AnsibleError(f"{option} ({path}) is a binary file encrypted with Ansible Vault: decrypt it, or "
                                   f"let cert_check run on the controller without become") from None
            del args[option]
        return args

    def _run_module(self, task_vars, module_args):
        # as ansible.builtin.normal runs a module
        wrap_async = self._task.async_val and not self._connection.has_native_async
        result = self._execute_module(module_name=MODULE, module_args=module_args, task_vars=task_vars,
                                      wrap_async=wrap_async)
        if not wrap_async:
            self._remove_tmp_path(self._connection._shell.tmpdir)
        return result


def _is_vaulted(path):
    with open(path, "rb") as handle:
        return is_encrypted_file(handle)


def _invocation_wanted(task_vars):
    """Whether a module's result would carry ``invocation`` with this ansible-core."""
    # 2.21 added INJECT_INVOCATION (default off); before, AnsibleModule always returned it.
    if "INJECT_INVOCATION" not in C.config.get_configuration_definitions():
        return True
    return C.config.get_config_value("INJECT_INVOCATION", variables=task_vars)


def _hide_no_log_values(result, no_log_values):
    """The masking AnsibleModule applies to every result it returns."""
    # a no_log value "False" must not mask changed/failed: booleans and None are kept
    kept = {key: value for key, value in result.items() if value is None or isinstance(value, bool)}
    result = remove_values(result, no_log_values)
    result.update(kept)
    return result
