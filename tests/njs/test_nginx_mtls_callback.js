// Copyright: chat_callback.mtls contributors
// GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
//
// Unit test of roles/nginx_mtls/files/nginx_mtls_callback.js outside nginx, with the njs CLI
// (Debian's package njs: the same engine as libnginx-mod-http-js). Run from the repository root:
//   njs -p roles/nginx_mtls/files tests/njs/test_nginx_mtls_callback.js
// It throws at the first failure (njs then exits 1), and prints "ok N checks" when all pass.
// tests/unit/test_nginx_mtls_callback_js.py runs it under pytest.

import m from 'nginx_mtls_callback.js';

// The platform's documented example.
var TOKEN = 'xxxxyyyy';
var TIME = '1669872112';
var SIGN = '17773bc39a671d7b9aa835458704d2a6db81360a5940292b587d6d760d484061';
var NOW = 1669872112;
var APP = '1400000000';

var checks = 0;

function expect(name, got, want) {
    checks++;
    if (got !== want) {
        throw new Error(name + ': got ' + JSON.stringify(got) + ', want ' + JSON.stringify(want));
    }
}

// The args as r.args would hold them, with some replaced or removed (undefined).
function args(changes) {
    var a = {Sign: SIGN, RequestTime: TIME, SdkAppid: APP};
    Object.keys(changes || {}).forEach(function (k) {
        if (changes[k] === undefined) {
            delete a[k];
        } else {
            a[k] = changes[k];
        }
    });
    return a;
}

var WITH_APP = {token: TOKEN, sdkappid: APP, maxSkew: 60};
var NO_APP = {token: TOKEN, sdkappid: '', maxSkew: 60};

function judge(name, a, config, now, want) {
    expect(name, m.judge(a, config, now === undefined ? NOW : now), want);
}

expect('exports', ['verdict', 'judge', 'sign'].map(function (k) { return typeof m[k]; }).join(),
       'function,function,function');
expect('sign of the test vector', m.sign(TOKEN, TIME), SIGN);

judge('the test vector', args(), WITH_APP, NOW, 'ok');
judge('60 s behind', args(), WITH_APP, NOW + 60, 'ok');
judge('60 s ahead', args(), WITH_APP, NOW - 60, 'ok');
judge('61 s behind', args(), WITH_APP, NOW + 61, 'stale');
judge('61 s ahead', args(), WITH_APP, NOW - 61, 'stale');
judge('max_skew 0, same second', args(), {token: TOKEN, sdkappid: APP, maxSkew: 0}, NOW, 'ok');
judge('max_skew 0, a second off', args(), {token: TOKEN, sdkappid: APP, maxSkew: 0}, NOW + 1, 'stale');
judge('stale is checked before the signature', args({Sign: SIGN.replace('1', '2')}), WITH_APP, NOW + 61, 'stale');

judge('upper-case hex', args({Sign: SIGN.toUpperCase()}), WITH_APP, NOW, 'ok');
judge('one char changed', args({Sign: SIGN.slice(0, 63) + '0'}), WITH_APP, NOW, 'bad_sign');
judge('another token', args(), {token: 'xxxxyyyz', sdkappid: APP, maxSkew: 60}, NOW, 'bad_sign');
judge('another time, same sign', args({RequestTime: '1669872113'}), WITH_APP, NOW, 'bad_sign');
judge('leading zero: signed as sent', args({RequestTime: '01669872112'}), WITH_APP, NOW, 'bad_sign');

judge('no Sign', args({Sign: undefined}), WITH_APP, NOW, 'missing');
judge('empty Sign', args({Sign: ''}), WITH_APP, NOW, 'missing');
judge('no RequestTime', args({RequestTime: undefined}), WITH_APP, NOW, 'missing');
judge('empty RequestTime', args({RequestTime: ''}), WITH_APP, NOW, 'missing');
judge('no args at all', {}, WITH_APP, NOW, 'missing');

judge('repeated Sign', args({Sign: [SIGN, SIGN]}), WITH_APP, NOW, 'garbled');
judge('repeated RequestTime', args({RequestTime: [TIME, TIME]}), WITH_APP, NOW, 'garbled');
judge('RequestTime not digits', args({RequestTime: '1669872112.0'}), WITH_APP, NOW, 'garbled');
judge('RequestTime negative', args({RequestTime: '-1669872112'}), WITH_APP, NOW, 'garbled');
judge('RequestTime 13 digits', args({RequestTime: '1669872112000'}), WITH_APP, NOW, 'garbled');
judge('Sign 63 chars', args({Sign: SIGN.slice(1)}), WITH_APP, NOW, 'garbled');
judge('Sign 65 chars', args({Sign: SIGN + '0'}), WITH_APP, NOW, 'garbled');
judge('Sign not hex', args({Sign: SIGN.slice(0, 63) + 'g'}), WITH_APP, NOW, 'garbled');

judge('wrong SdkAppid', args({SdkAppid: '1400000001'}), WITH_APP, NOW, 'wrong_app');
judge('no SdkAppid', args({SdkAppid: undefined}), WITH_APP, NOW, 'wrong_app');
judge('empty SdkAppid', args({SdkAppid: ''}), WITH_APP, NOW, 'wrong_app');
judge('repeated SdkAppid', args({SdkAppid: [APP, APP]}), WITH_APP, NOW, 'wrong_app');
judge('SdkAppid with a space', args({SdkAppid: APP + ' '}), WITH_APP, NOW, 'wrong_app');
judge('SdkAppid is checked after the signature', args({SdkAppid: '1', Sign: SIGN.replace('1', '2')}),
      WITH_APP, NOW, 'bad_sign');
judge('SdkAppid not configured: wrong one ignored', args({SdkAppid: '1'}), NO_APP, NOW, 'ok');
judge('SdkAppid not configured: missing one ignored', args({SdkAppid: undefined}), NO_APP, NOW, 'ok');

judge('empty token', args(), {token: '', sdkappid: APP, maxSkew: 60}, NOW, 'unconfigured');
judge('empty token, no args', {}, {token: '', sdkappid: '', maxSkew: 60}, NOW, 'unconfigured');
judge('max_skew not a number', args(), {token: TOKEN, sdkappid: APP, maxSkew: NaN}, NOW, 'unconfigured');

expect('safeEqual same', m.safeEqual(SIGN, SIGN), true);
expect('safeEqual last char', m.safeEqual(SIGN, SIGN.slice(0, 63) + '0'), false);
expect('safeEqual lengths', m.safeEqual(SIGN, SIGN.slice(1)), false);

// The handler, with a stand-in for nginx's request object.
function request(vars, a) {
    return {variables: vars, args: a};
}
var VARS = {nginx_mtls_callback_token: TOKEN, nginx_mtls_callback_sdkappid: APP,
            nginx_mtls_callback_max_skew: '60'};
var now = Math.floor(Date.now() / 1000);
var fresh = args({RequestTime: String(now), Sign: m.sign(TOKEN, String(now))});
expect('verdict, fresh request', m.verdict(request(VARS, fresh)), 'ok');
expect('verdict, test vector is stale now', m.verdict(request(VARS, args())), 'stale');
expect('verdict, no token variable', m.verdict(request({}, fresh)), 'unconfigured');
expect('verdict, max_skew unset: 60', m.verdict(request({nginx_mtls_callback_token: TOKEN}, fresh)), 'ok');
expect('verdict, max_skew garbage', m.verdict(request({nginx_mtls_callback_token: TOKEN,
                                                       nginx_mtls_callback_max_skew: '60s'}, fresh)),
       'unconfigured');
expect('verdict, sdkappid unset', m.verdict(request({nginx_mtls_callback_token: TOKEN},
                                                    args({RequestTime: String(now), Sign: m.sign(TOKEN, String(now)),
                                                          SdkAppid: '1'}))), 'ok');

console.log('ok ' + checks + ' checks');
