// Copyright: chat_callback.mtls contributors
// GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
//
// Checks Tencent Cloud Chat's callback authentication at the edge, before a callback reaches the
// application. With a token set in the console, every callback URL carries the query args
// RequestTime (Unix seconds) and Sign = hex(sha256(Token + RequestTime)), and SdkAppid.
//
// Installed by the role chat_callback.mtls.nginx_mtls, and loaded inside each server {} with
//   js_import nginx_mtls_callback from /path/to/nginx_mtls_callback.js;
//   js_set $nginx_mtls_callback nginx_mtls_callback.verdict;
// (inside server {}, not http {}: two sites importing at http level collide). The server block
// sets $nginx_mtls_callback_token, $nginx_mtls_callback_sdkappid (empty: not checked) and
// $nginx_mtls_callback_max_skew (seconds), and turns every verdict but "ok" into a 401, except
// "wrong_app" into a 403.
//
// Verdicts, in the order they are checked: unconfigured (no token: fail closed), missing, garbled,
// stale, bad_sign, wrong_app, ok. The token and the Sign are never logged nor returned: the
// verdict is all that leaves this module.
//
// Written for njs 0.7.9 (Debian 12) as well as 0.8.x: no crypto.timingSafeEqual, no ES6 classes.
// Unit test: tests/njs/test_nginx_mtls_callback.js.

var crypto = require('crypto');

var DEFAULT_MAX_SKEW = 60;

function sign(token, requestTime) {
    return crypto.createHash('sha256').update(token + requestTime).digest('hex');
}

// Compares two strings of the same length without stopping at the first difference, so the
// time taken does not tell an attacker how many leading characters of a forged Sign were right.
// The lengths are public (a Sign is always 64 hex chars), so leaving early on them leaks nothing.
function safeEqual(a, b) {
    if (a.length !== b.length) {
        return false;
    }
    var diff = 0;
    for (var i = 0; i < a.length; i++) {
        diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
    }
    return diff === 0;
}

// A repeated query arg comes as an array (njs >= 0.7.15): which copy was signed is anyone's guess.
function isSingle(value) {
    return typeof value === 'string';
}

function isAbsent(value) {
    return value === undefined || value === null || value === '';
}

// args: the query args as r.args gives them; config: {token, sdkappid, maxSkew}; now: Unix seconds.
function judge(args, config, now) {
    var maxSkew = config.maxSkew;
    if (!config.token || typeof maxSkew !== 'number' || !(maxSkew >= 0) || maxSkew % 1 !== 0) {
        return 'unconfigured';
    }
    var sig = args.Sign;
    var time = args.RequestTime;
    if (isAbsent(sig) || isAbsent(time)) {
        return 'missing';
    }
    // 12 digits are enough until the year 33658 and keep Number() exact.
    if (!isSingle(sig) || !isSingle(time) || !/^[0-9]{1,12}$/.test(time) || !/^[0-9a-fA-F]{64}$/.test(sig)) {
        return 'garbled';
    }
    // Either direction: a clock running ahead is no more trustworthy than a replayed request.
    if (Math.abs(now - Number(time)) > maxSkew) {
        return 'stale';
    }
    // The platform signs the RequestTime as it sent it (leading zeros included).
    if (!safeEqual(sign(config.token, time), sig.toLowerCase())) {
        return 'bad_sign';
    }
    // Checked after the signature: only a caller who knows the token learns that the app is wrong.
    if (config.sdkappid && args.SdkAppid !== config.sdkappid) {
        return 'wrong_app';
    }
    return 'ok';
}

// Reads a variable's integer value; an empty or unset variable means the default.
function maxSkewOf(value) {
    if (isAbsent(value)) {
        return DEFAULT_MAX_SKEW;
    }
    // Anything but plain digits (e.g. "60s") is a configuration error: NaN makes judge fail closed.
    return /^[0-9]{1,9}$/.test(value) ? Number(value) : NaN;
}

// The js_set handler: $nginx_mtls_callback.
function verdict(r) {
    var v = r.variables;
    var config = {
        token: v.nginx_mtls_callback_token || '',
        sdkappid: v.nginx_mtls_callback_sdkappid || '',
        maxSkew: maxSkewOf(v.nginx_mtls_callback_max_skew)
    };
    return judge(r.args, config, Math.floor(Date.now() / 1000));
}

export default {verdict: verdict, judge: judge, sign: sign, safeEqual: safeEqual};
