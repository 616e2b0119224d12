// session-vars for Latchkey's JavaScript runtime: the TypeScript port of ../../module.go, with the same
// behaviour. A before-authenticate-device hook puts the player's region and tier into the session variables,
// a before-refresh hook keeps them for the whole session, and a before-get-account hook refuses players whose
// region is blocked.

// REGION_HEADER names the request header the region comes from. In production it would be set by your load
// balancer or CDN (from the client's address), not by the game client.
const REGION_HEADER = 'X-Region';
const DEFAULT_REGION = 'global';
// BLOCKED_REGIONS_ENV is the runtime.env key listing the regions, comma-separated, whose players may not
// read their account: --runtime.env blocked_regions=north-pole,south-pole.
const BLOCKED_REGIONS_ENV = 'blocked_regions';

function InitModule(ctx: nkruntime.Context, logger: nkruntime.Logger, nk: nkruntime.Nakama, initializer: nkruntime.Initializer) {
    initializer.registerBeforeAuthenticateDevice(addSessionVars);
    initializer.registerBeforeSessionRefresh(keepLoginVars);
    initializer.registerBeforeGetAccount(checkRegion);
}

// addSessionVars adds "region" and "tier" to the session variables of every device login. The variables the
// client sent are kept, but the server's values win: a client cannot choose its own region or tier.
function addSessionVars(ctx: nkruntime.Context, logger: nkruntime.Logger, nk: nkruntime.Nakama, data: nkruntime.AuthenticateDeviceRequest): nkruntime.AuthenticateDeviceRequest {
    if (!data.account) {
        data.account = {id: ''};
    }
    if (!data.account.vars) {
        data.account.vars = {};
    }
    data.account.vars['region'] = region(ctx);
    data.account.vars['tier'] = 'free';
    return data;
}

// keepLoginVars drops the variables a client sends with a refresh. A refresh with variables replaces the
// session's, so without this hook a player could refresh their way out of a blocked region; with it the
// session keeps the variables decided at login.
function keepLoginVars(ctx: nkruntime.Context, logger: nkruntime.Logger, nk: nkruntime.Nakama, data: nkruntime.SessionRefreshRequest): nkruntime.SessionRefreshRequest {
    delete data.vars;
    return data;
}

// region returns the request's region header, lower-cased, when it is a plausible region name, and the
// default region otherwise.
function region(ctx: nkruntime.Context): string {
    const values = header(ctx.headers, REGION_HEADER);
    if (values.length === 0) {
        return DEFAULT_REGION;
    }
    const r = values[0].replace(/^\s+|\s+$/g, '').toLowerCase();
    if (r === '' || r.length > 32 || !/^[a-z0-9-]+$/.test(r)) {
        return DEFAULT_REGION;
    }
    return r;
}

// header returns the values of the named request header, whatever the case of its key.
function header(headers: {[key: string]: string[]} | undefined, name: string): string[] {
    if (!headers) {
        return [];
    }
    const want = name.toLowerCase();
    for (const key in headers) {
        if (Object.prototype.hasOwnProperty.call(headers, key) && key.toLowerCase() === want && headers[key]) {
            return headers[key];
        }
    }
    return [];
}

// checkRegion refuses GET /v2/account (403) to a session whose region is blocked, and logs the caller's
// session variables otherwise.
function checkRegion(ctx: nkruntime.Context, logger: nkruntime.Logger, nk: nkruntime.Nakama): void {
    const vars = ctx.vars || {};
    const blocked = ((ctx.env || {})[BLOCKED_REGIONS_ENV] || '').split(',');
    const r = vars['region'] || '';
    for (let i = 0; i < blocked.length; i++) {
        if (r !== '' && blocked[i].replace(/^\s+|\s+$/g, '') === r) {
            throw {message: 'Account access is not available in your region.', code: nkruntime.Codes.PERMISSION_DENIED} as nkruntime.Error;
        }
    }
    logger.withField('user_id', ctx.userId).info('get account with session vars %s', JSON.stringify(vars));
}
