// rename-token for Latchkey's JavaScript runtime: the TypeScript port of ../../module.go, with the same
// behaviour. The update_username RPC renames the caller and answers with a fresh session token whose usn is
// the new name, so the client need not log in again.

// MAX_USERNAME_BYTES is the server's username limit, checked here so that a bad name is a 400 with a
// readable message rather than an error from accountUpdateId.
const MAX_USERNAME_BYTES = 128;

function InitModule(ctx: nkruntime.Context, logger: nkruntime.Logger, nk: nkruntime.Nakama, initializer: nkruntime.Initializer) {
    initializer.registerRpc('update_username', updateUsername);
}

// updateUsername renames the calling user and returns a fresh session token that carries the new name and
// the caller's session variables: {"token": "...", "exp": <Unix seconds>}. The caller's current token stays
// valid (with the old name) until it expires; a refresh of the caller's session also picks up the new name.
function updateUsername(ctx: nkruntime.Context, logger: nkruntime.Logger, nk: nkruntime.Nakama, payload: string): string {
    const userId = ctx.userId;
    if (!userId) {
        // Called with the HTTP key: there is no user to rename.
        throw {message: 'update_username needs a session token.', code: nkruntime.Codes.UNAUTHENTICATED} as nkruntime.Error;
    }
    const username = requestedUsername(payload);
    checkUsername(username);

    try {
        nk.accountUpdateId(userId, username);
    } catch (e) {
        const reason = errorText(e);
        if (reason.indexOf('username is already in use') >= 0) {
            throw {message: 'Username is already in use.', code: nkruntime.Codes.ALREADY_EXISTS} as nkruntime.Error;
        }
        if (reason.indexOf('user not found') >= 0) {
            throw {message: 'User account not found.', code: nkruntime.Codes.NOT_FOUND} as nkruntime.Error;
        }
        throw e; // logged by the server, answered as a generic 500
    }

    // No expiry: the token gets the configured lifetime.
    const t = nk.authenticateTokenGenerate(userId, username, undefined, ctx.vars);
    logger.withField('user_id', userId).info('renamed to %q', username);
    return JSON.stringify({token: t.token, exp: t.exp});
}

// requestedUsername reads {"username": "..."} from the payload; a missing or null username is empty.
function requestedUsername(payload: string): string {
    let req: any;
    try {
        req = JSON.parse(payload);
    } catch (e) {
        req = undefined;
    }
    if (req === null) {
        return '';
    }
    if (typeof req !== 'object' || Object.prototype.toString.call(req) === '[object Array]' ||
        (req.username !== undefined && req.username !== null && typeof req.username !== 'string')) {
        throw {message: 'Payload must be a JSON object: {"username": "..."}.', code: nkruntime.Codes.INVALID_ARGUMENT} as nkruntime.Error;
    }
    return req.username || '';
}

// checkUsername applies the server's username rules: 1-128 bytes, no spaces or control characters.
function checkUsername(u: string): void {
    if (u === '' || utf8Length(u) > MAX_USERNAME_BYTES) {
        throw {message: 'Username invalid, must be 1-128 bytes.', code: nkruntime.Codes.INVALID_ARGUMENT} as nkruntime.Error;
    }
    for (let i = 0; i < u.length; i++) {
        const c = u.charCodeAt(i);
        if (c <= 0x20 || c === 0x7f) {
            throw {message: 'Username invalid, no spaces or control characters allowed.', code: nkruntime.Codes.INVALID_ARGUMENT} as nkruntime.Error;
        }
    }
}

// utf8Length is the length of s in UTF-8 bytes, as the server counts it.
function utf8Length(s: string): number {
    let n = 0;
    for (let i = 0; i < s.length; i++) {
        const c = s.charCodeAt(i);
        if (c < 0x80) {
            n += 1;
        } else if (c < 0x800) {
            n += 2;
        } else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
            n += 4; // a surrogate pair
            i++;
        } else {
            n += 3;
        }
    }
    return n;
}

// errorText is the message of a thrown error, whatever its shape.
function errorText(e: any): string {
    if (e && typeof e.message === 'string') {
        return e.message;
    }
    return String(e);
}
