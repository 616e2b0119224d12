// photon-auth for Latchkey's JavaScript runtime: the TypeScript port of ../../module.go, with the same
// behaviour. Photon calls the photon_auth RPC with the player's Latchkey session token, and the answer tells
// Photon who the player is.

// Photon's result codes.
const RESULT_OK = 1; // authenticated
const RESULT_FAILED = 2; // wrong credentials
const RESULT_MISSING_OR_WRONG = 3; // invalid or missing parameters

// Messages Photon passes to the client (OnCustomAuthenticationFailed).
const MSG_MISSING = 'Parameter auth_token is missing.';
const MSG_EXPIRED = 'Session token expired; refresh the session and connect again.';
const MSG_ENDED = 'Session has ended; log in again.';
const MSG_INVALID = 'Invalid session token.';

// PhotonResult is the JSON object Photon reads. ResultCode is required; UserId and Nickname are only sent
// on success, Message only on failure.
interface PhotonResult {
    ResultCode: number;
    UserId?: string;
    Nickname?: string;
    Message?: string;
}

function InitModule(ctx: nkruntime.Context, logger: nkruntime.Logger, nk: nkruntime.Nakama, initializer: nkruntime.Initializer) {
    initializer.registerRpc('photon_auth', photonAuth);
}

// photonAuth answers Photon's custom-authentication call. The token comes from the auth_token query
// parameter (Photon's default GET) or, when Photon posts a dictionary (AuthPostData), from the auth_token
// field of the JSON body. The caller is authenticated by the server before this runs (the http_key
// parameter, set as a dashboard value in Photon), so the module never sees a key.
//
// Every decision is an HTTP 200 with a result code: Photon treats HTTP errors as the provider being down and
// backs off, which would lock out (or let in) every player for a while.
function photonAuth(ctx: nkruntime.Context, logger: nkruntime.Logger, nk: nkruntime.Nakama, payload: string): string {
    const token = authToken(ctx, payload);
    if (token === '') {
        return JSON.stringify({ResultCode: RESULT_MISSING_OR_WRONG, Message: MSG_MISSING} as PhotonResult);
    }
    let session: nkruntime.SessionClaims;
    try {
        session = nk.sessionValidate(token);
    } catch (e: any) {
        const reason = e && typeof e.message === 'string' ? e.message : String(e);
        if (reason.indexOf('token expired') >= 0) {
            return JSON.stringify({ResultCode: RESULT_FAILED, Message: MSG_EXPIRED} as PhotonResult);
        }
        if (reason.indexOf('session revoked') >= 0) {
            return JSON.stringify({ResultCode: RESULT_FAILED, Message: MSG_ENDED} as PhotonResult);
        }
        // Malformed, or a bad signature.
        logger.debug('photon_auth refused a token: %s', reason);
        return JSON.stringify({ResultCode: RESULT_FAILED, Message: MSG_INVALID} as PhotonResult);
    }
    return JSON.stringify({ResultCode: RESULT_OK, UserId: session.userId, Nickname: session.username} as PhotonResult);
}

// authToken finds the session token in the query, else in a JSON object body; empty when there is none.
function authToken(ctx: nkruntime.Context, payload: string): string {
    const query = ctx.queryParams || {};
    const v = query['auth_token'];
    if (v && v.length > 0 && v[0] !== '') {
        return v[0];
    }
    if (!payload || payload.replace(/^\s+|\s+$/g, '') === '') {
        return '';
    }
    let body: any;
    try {
        body = JSON.parse(payload);
    } catch (e) {
        return '';
    }
    if (body === null || typeof body !== 'object' || typeof body.auth_token !== 'string') {
        return '';
    }
    return body.auth_token;
}
