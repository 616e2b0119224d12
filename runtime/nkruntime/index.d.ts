// Type declarations for Latchkey's JavaScript runtime: the `nkruntime` namespace of Nakama's TypeScript
// declarations (heroiclabs/nakama-common, index.d.ts), with Nakama's namespace, interface, function and
// parameter names, narrowed to what Latchkey serves: authentication, sessions, accounts and users, link and
// unlink, RPCs, before/after hooks, realtime rpc/ping hooks and socket session events.
//
// Nakama features Latchkey does not have (storage, wallets, leaderboards, tournaments, matches, groups,
// friends, notifications, chat, purchases, SQL, HTTP requests, ...) are left out on purpose, so that a module
// calling one fails to compile ("Property 'storageRead' does not exist on type 'Nakama'") instead of failing
// when a player reaches it. Functions marked (Latchkey) exist in Latchkey only. See README.md next to this
// file for how to reference it.

declare namespace nkruntime {

    /**
     * The context of the current execution. Values are copies: changing them changes nothing for the server.
     */
    export type Context = {
        /** The runtime.env entries of the server's configuration. */
        env: {[key: string]: string},
        /** "before", "after", "rpc" or "event". */
        executionMode: string,
        /** The name of the node running the code. */
        node: string,
        /** The request's headers (HTTP calls). */
        headers: {[key: string]: string[]},
        /** The request's query parameters, http_key excepted. */
        queryParams: {[key: string]: string[]},
        /** The caller, when known; absent for server-to-server calls made with the HTTP key. */
        userId: string,
        username: string,
        /** The caller's session variables (the token's vrs). */
        vars: {[key: string]: string}
        /** The caller's session token expiry, Unix seconds. */
        userSessionExp: number,
        /** The caller's session id over HTTP (the token's tid); the socket's session id over a realtime socket. */
        sessionId: string,
        clientIp: string,
        clientPort: string,
        /** The realtime socket's language (socket calls). */
        lang: string,
    }

    /**
     * gRPC error codes, for thrown errors. Each answers the client with its HTTP status: 3 → 400, 5 → 404,
     * 6 → 409, 7 → 403, 16 → 401, ... (https://github.com/grpc/grpc/blob/master/doc/http-grpc-status-mapping.md).
     */
    const enum Codes {
        CANCELLED = 1,
        UNKNOWN = 2,
        INVALID_ARGUMENT = 3,
        DEADLINE_EXCEEDED = 4,
        NOT_FOUND = 5,
        ALREADY_EXISTS = 6,
        PERMISSION_DENIED = 7,
        RESOURCE_EXHAUSTED = 8,
        FAILED_PRECONDITION = 9,
        ABORTED = 10,
        OUT_OF_RANGE = 11,
        UNIMPLEMENTED = 12,
        INTERNAL = 13,
        UNAVAILABLE = 14,
        DATA_LOSS = 15,
        UNAUTHENTICATED = 16,
    }

    /**
     * A custom runtime error: `throw {message: '...', code: nkruntime.Codes.PERMISSION_DENIED} as nkruntime.Error`.
     * The message is sent to the client as is. Any other thrown value answers a generic 500.
     */
    export type Error = {
        message: string
        code: Codes
    }

    /**
     * An RPC function definition.
     */
    export interface RpcFunction {
        /**
         * @param ctx - The context for the execution.
         * @param logger - The server logger.
         * @param nk - The server APIs.
         * @param payload - The input data to the function call, usually a JSON string.
         * @returns A response payload.
         */
        (ctx: Context, logger: Logger, nk: Nakama, payload: string): string | void;
    }

    /**
     * A before-hook function definition.
     */
    export interface BeforeHookFunction<T> {
        /**
         * The function returns the request to go on with (changed or not); returning null or nothing refuses
         * the call (404). For calls without a request (getAccount, deleteAccount) only a thrown error counts.
         *
         * @param ctx - The context for the execution.
         * @param logger - The server logger.
         * @param nk - The server APIs.
         * @param data - The request.
         */
        (ctx: Context, logger: Logger, nk: Nakama, data: T): T | void;
    }

    /**
     * An after-hook function definition. Its errors are logged, not sent to the client.
     */
    export interface AfterHookFunction<T, K> {
        /**
         * @param ctx - The context for the execution.
         * @param logger - The server logger.
         * @param nk - The server APIs.
         * @param data - The result of the call.
         * @param request - The request.
         */
        (ctx: Context, logger: Logger, nk: Nakama, data: T, request: K): void;
    }

    /**
     * A realtime before-hook function definition.
     */
    export interface RtBeforeHookFunction<T extends Envelope> {
        /**
         * The function returns the envelope to go on with; returning nothing refuses the message.
         *
         * @param ctx - The context for the execution.
         * @param logger - The server logger.
         * @param nk - The server APIs.
         * @param envelope - The message received.
         */
        (ctx: Context, logger: Logger, nk: Nakama, envelope: T): T | void;
    }

    /**
     * A realtime after-hook function definition.
     */
    export interface RtAfterHookFunction<T extends Envelope> {
        /**
         * @param ctx - The context for the execution.
         * @param logger - The server logger.
         * @param nk - The server APIs.
         * @param output - The answer sent, if any.
         * @param input - The message received.
         */
        (ctx: Context, logger: Logger, nk: Nakama, output: T | null, input: T): void;
    }

    /**
     * A socket session event function: registerEventSessionStart and registerEventSessionEnd.
     */
    export interface EventFunction {
        /**
         * @param ctx - The context: the socket's user, session id and lang.
         * @param logger - The server logger.
         * @param nk - The server APIs.
         * @param evt - The event; for a session end, properties.reason says why the socket closed.
         */
        (ctx: Context, logger: Logger, nk: Nakama, evt: Event): void;
    }

    type SessionVars = {[key: string]: string}

    /**
     * Hook payloads.
     */
    export interface AccountApple {
        token?: string
        vars?: SessionVars
    }

    export interface AuthenticateAppleRequest {
        account?: AccountApple
        create?: boolean
        username?: string
    }

    export interface AccountCustom {
        id?: string
        vars?: SessionVars
    }

    export interface AuthenticateCustomRequest {
        account?: AccountCustom
        create?: boolean
        username?: string
    }

    /**
     * Account device object.
     */
    export interface AccountDevice {
        id: string
        vars?: SessionVars
    }

    export interface AuthenticateDeviceRequest {
        account?: AccountDevice
        create?: boolean
        username?: string
    }

    export interface AccountEmail {
        email?: string
        password?: string
        vars?: SessionVars
    }

    export interface AuthenticateEmailRequest {
        account: AccountEmail
        create: boolean
        username: string
    }

    export interface AccountFacebook {
        token?: string
        vars?: SessionVars
    }

    export interface AuthenticateFacebookRequest {
        account?: AccountFacebook
        create?: boolean
        username?: string
        sync?: boolean
    }

    export interface AccountFacebookInstantGame {
        signedPlayerInfo?: string
        vars?: SessionVars
    }

    export interface AuthenticateFacebookInstantGameRequest {
        account?: AccountFacebookInstantGame
        create?: boolean
        username?: string
    }

    export interface AccountGameCenter {
        playerId?: string
        bundleId?: string
        timestampSeconds?: string
        salt?: string
        signature?: string
        publicKeyUrl?: string
        vars?: SessionVars
    }

    export interface AuthenticateGameCenterRequest {
        account?: AccountGameCenter
        create?: boolean
        username?: string
    }

    export interface AccountGoogle {
        token?: string
        vars?: SessionVars
    }

    export interface AuthenticateGoogleRequest {
        account?: AccountGoogle
        create?: boolean
        username?: string
    }

    export interface AccountSteam {
        token?: string
        vars?: SessionVars
    }

    export interface AuthenticateSteamRequest {
        account?: AccountSteam
        create?: boolean
        username?: string
    }

    export interface LinkFacebookRequest {
        account?: AccountFacebook
        sync?: boolean
    }

    export interface LinkSteamRequest {
        account?: AccountSteam
        sync?: boolean
    }

    export interface SessionRefreshRequest {
        token?: string
        vars?: SessionVars
    }

    export interface SessionLogoutRequest {
        token?: string
        refreshToken?: string
        /** (Latchkey) "others": end the caller's other sessions. */
        scope?: string
    }

    export interface GetUsersRequest {
        ids?: string[]
        usernames?: string[]
        facebookIds?: string[]
    }

    export interface Event {
        name?: string
        properties?: {[key: string]: string}
        /** RFC 3339. */
        timestamp?: string
        external?: boolean
    }

    export interface Session {
        created?: boolean
        token?: string
        refreshToken?: string
    }

    export interface Users {
        users: User[]
    }

    /**
     * Realtime hook messages: Latchkey's socket serves rpc and ping.
     */
    export type RtHookMessage = 'Rpc' | 'Ping'

    /**
     * Envelope for realtime message hooks.
     */
    type Envelope = EnvelopeRpc | EnvelopePing | EnvelopePong

    export interface Rpc {
        id: string
        payload?: string
        httpKey?: string
    }

    export interface EnvelopeRpc {
        rpc: Rpc
    }

    export interface EnvelopePing {
        ping: {}
    }

    export interface EnvelopePong {
        pong: {}
    }

    /**
     * The injector used to initialize features of the server.
     */
    export interface Initializer {
        /**
         * Register an RPC function by its ID to be called as a S2S function or by game clients.
         *
         * @param id - The ID of the function in the server (case-insensitive).
         * @param func - The RPC function logic to execute when the RPC is called.
         */
        registerRpc(id: string, func: RpcFunction): void;

        /**
         * Register a hook to be run before a realtime message of the kind id names is processed.
         *
         * @param id - The message kind.
         * @param func - The hook.
         */
        registerRtBefore(id: RtHookMessage, func: RtBeforeHookFunction<Envelope>): void;

        /**
         * Register a hook to be run after a realtime message of the kind id names is processed.
         *
         * @param id - The message kind.
         * @param func - The hook.
         */
        registerRtAfter(id: RtHookMessage, func: RtAfterHookFunction<Envelope>): void;

        /**
         * Register a function run when a realtime socket opens. Events run in the background, in order.
         *
         * @param fn - The function.
         */
        registerEventSessionStart(fn: EventFunction): void;

        /**
         * Register a function run when a realtime socket closes.
         *
         * @param fn - The function.
         */
        registerEventSessionEnd(fn: EventFunction): void;

        registerBeforeGetAccount(fn: BeforeHookFunction<void>): void;
        registerAfterGetAccount(fn: AfterHookFunction<Account, void>): void;
        registerBeforeUpdateAccount(fn: BeforeHookFunction<UserUpdateAccount>): void;
        registerAfterUpdateAccount(fn: AfterHookFunction<void, UserUpdateAccount>): void;
        registerBeforeDeleteAccount(fn: BeforeHookFunction<void>): void;
        registerAfterDeleteAccount(fn: AfterHookFunction<void, void>): void;

        registerBeforeSessionRefresh(fn: BeforeHookFunction<SessionRefreshRequest>): void;
        registerAfterSessionRefresh(fn: AfterHookFunction<Session, SessionRefreshRequest>): void;
        registerBeforeSessionLogout(fn: BeforeHookFunction<SessionLogoutRequest>): void;
        registerAfterSessionLogout(fn: AfterHookFunction<void, SessionLogoutRequest>): void;

        registerBeforeAuthenticateApple(fn: BeforeHookFunction<AuthenticateAppleRequest>): void;
        registerAfterAuthenticateApple(fn: AfterHookFunction<Session, AuthenticateAppleRequest>): void;
        registerBeforeAuthenticateCustom(fn: BeforeHookFunction<AuthenticateCustomRequest>): void;
        registerAfterAuthenticateCustom(fn: AfterHookFunction<Session, AuthenticateCustomRequest>): void;
        registerBeforeAuthenticateDevice(fn: BeforeHookFunction<AuthenticateDeviceRequest>): void;
        registerAfterAuthenticateDevice(fn: AfterHookFunction<Session, AuthenticateDeviceRequest>): void;
        registerBeforeAuthenticateEmail(fn: BeforeHookFunction<AuthenticateEmailRequest>): void;
        registerAfterAuthenticateEmail(fn: AfterHookFunction<Session, AuthenticateEmailRequest>): void;
        registerBeforeAuthenticateFacebook(fn: BeforeHookFunction<AuthenticateFacebookRequest>): void;
        registerAfterAuthenticateFacebook(fn: AfterHookFunction<Session, AuthenticateFacebookRequest>): void;
        registerBeforeAuthenticateFacebookInstantGame(fn: BeforeHookFunction<AuthenticateFacebookInstantGameRequest>): void;
        registerAfterAuthenticateFacebookInstantGame(fn: AfterHookFunction<Session, AuthenticateFacebookInstantGameRequest>): void;
        registerBeforeAuthenticateGameCenter(fn: BeforeHookFunction<AuthenticateGameCenterRequest>): void;
        registerAfterAuthenticateGameCenter(fn: AfterHookFunction<Session, AuthenticateGameCenterRequest>): void;
        registerBeforeAuthenticateGoogle(fn: BeforeHookFunction<AuthenticateGoogleRequest>): void;
        registerAfterAuthenticateGoogle(fn: AfterHookFunction<Session, AuthenticateGoogleRequest>): void;
        registerBeforeAuthenticateSteam(fn: BeforeHookFunction<AuthenticateSteamRequest>): void;
        registerAfterAuthenticateSteam(fn: AfterHookFunction<Session, AuthenticateSteamRequest>): void;

        registerBeforeLinkApple(fn: BeforeHookFunction<AccountApple>): void;
        registerAfterLinkApple(fn: AfterHookFunction<void, AccountApple>): void;
        registerBeforeLinkCustom(fn: BeforeHookFunction<AccountCustom>): void;
        registerAfterLinkCustom(fn: AfterHookFunction<void, AccountCustom>): void;
        registerBeforeLinkDevice(fn: BeforeHookFunction<AccountDevice>): void;
        registerAfterLinkDevice(fn: AfterHookFunction<void, AccountDevice>): void;
        registerBeforeLinkEmail(fn: BeforeHookFunction<AccountEmail>): void;
        registerAfterLinkEmail(fn: AfterHookFunction<void, AccountEmail>): void;
        registerBeforeLinkFacebook(fn: BeforeHookFunction<LinkFacebookRequest>): void;
        registerAfterLinkFacebook(fn: AfterHookFunction<void, LinkFacebookRequest>): void;
        registerBeforeLinkFacebookInstantGame(fn: BeforeHookFunction<AccountFacebookInstantGame>): void;
        registerAfterLinkFacebookInstantGame(fn: AfterHookFunction<void, AccountFacebookInstantGame>): void;
        registerBeforeLinkGameCenter(fn: BeforeHookFunction<AccountGameCenter>): void;
        registerAfterLinkGameCenter(fn: AfterHookFunction<void, AccountGameCenter>): void;
        registerBeforeLinkGoogle(fn: BeforeHookFunction<AccountGoogle>): void;
        registerAfterLinkGoogle(fn: AfterHookFunction<void, AccountGoogle>): void;
        registerBeforeLinkSteam(fn: BeforeHookFunction<LinkSteamRequest>): void;
        registerAfterLinkSteam(fn: AfterHookFunction<void, LinkSteamRequest>): void;

        registerBeforeUnlinkApple(fn: BeforeHookFunction<AccountApple>): void;
        registerAfterUnlinkApple(fn: AfterHookFunction<void, AccountApple>): void;
        registerBeforeUnlinkCustom(fn: BeforeHookFunction<AccountCustom>): void;
        registerAfterUnlinkCustom(fn: AfterHookFunction<void, AccountCustom>): void;
        registerBeforeUnlinkDevice(fn: BeforeHookFunction<AccountDevice>): void;
        registerAfterUnlinkDevice(fn: AfterHookFunction<void, AccountDevice>): void;
        registerBeforeUnlinkEmail(fn: BeforeHookFunction<AccountEmail>): void;
        registerAfterUnlinkEmail(fn: AfterHookFunction<void, AccountEmail>): void;
        registerBeforeUnlinkFacebook(fn: BeforeHookFunction<AccountFacebook>): void;
        registerAfterUnlinkFacebook(fn: AfterHookFunction<void, AccountFacebook>): void;
        registerBeforeUnlinkFacebookInstantGame(fn: BeforeHookFunction<AccountFacebookInstantGame>): void;
        registerAfterUnlinkFacebookInstantGame(fn: AfterHookFunction<void, AccountFacebookInstantGame>): void;
        registerBeforeUnlinkGameCenter(fn: BeforeHookFunction<AccountGameCenter>): void;
        registerAfterUnlinkGameCenter(fn: AfterHookFunction<void, AccountGameCenter>): void;
        registerBeforeUnlinkGoogle(fn: BeforeHookFunction<AccountGoogle>): void;
        registerAfterUnlinkGoogle(fn: AfterHookFunction<void, AccountGoogle>): void;
        registerBeforeUnlinkSteam(fn: BeforeHookFunction<AccountSteam>): void;
        registerAfterUnlinkSteam(fn: AfterHookFunction<void, AccountSteam>): void;

        registerBeforeGetUsers(fn: BeforeHookFunction<GetUsersRequest>): void;
        registerAfterGetUsers(fn: AfterHookFunction<Users, GetUsersRequest>): void;
    }

    /**
     * A structured logger to output messages to the server log.
     */
    export interface Logger {
        /**
         * Log a message with optional formatted arguments (Go's fmt verbs: %s, %d, %v, ...) at INFO level.
         *
         * @returns The formatted string logged.
         */
        info(format: string, ...args: any[]): string;
        warn(format: string, ...args: any[]): string;
        error(format: string, ...args: any[]): string;
        debug(format: string, ...args: any[]): string;

        /**
         * A logger with the key/value pair added to the fields logged with every message.
         */
        withField(key: string, value: string): Logger;

        /**
         * A logger with the key/value pairs added to the fields logged with every message.
         */
        withFields(pairs: {[key: string]: string}): Logger;

        /**
         * The fields of this logger.
         */
        getFields(): {[key: string]: string};
    }

    /**
     * Object returned on successful user authentication.
     */
    export interface AuthResult {
        userId: string;
        username: string;
        created: boolean;
    }

    /**
     * Object returned on authentication token generation.
     */
    export interface TokenGenerateResult {
        /** The session token. */
        token: string;
        /** Its expiry, Unix seconds. */
        exp: number;
    }

    /**
     * What a valid session token says about its holder. (Latchkey)
     */
    /** A join ticket. (Latchkey) */
    export interface Ticket {
        token: string;
        /** The ticket's unique id (jti). */
        id: string;
        /** Unix seconds. */
        expiresAt: number;
    }

    /** What a redeemed join ticket says about its holder. (Latchkey) */
    export interface TicketClaims {
        userId: string;
        username: string;
        /** The session the ticket was minted for (its tokens' tid). */
        sessionId: string;
        audience: string;
        id: string;
        /** Unix seconds. */
        expiresAt: number;
        /** Unix seconds. */
        issuedAt: number;
        vars: {[key: string]: string};
    }

    export interface SessionClaims {
        /** The token's tid: every token of one login shares it. */
        sessionId: string;
        userId: string;
        /** The username when the token was issued. */
        username: string;
        vars: {[key: string]: string};
        /** Unix seconds. */
        expiresAt: number;
        /** Unix seconds. */
        issuedAt: number;
    }

    /**
     * One live session (login) of a user. (Latchkey)
     */
    export interface SessionInfo {
        id: string;
        createTime: number;
        refreshTime: number;
        expireTime: number;
        userAgent: string;
        clientIp: string;
    }

    /**
     * One open realtime socket. (Latchkey)
     */
    export interface SocketInfo {
        sessionId: string;
        userId: string;
        tokenId: string;
        node: string;
        createTime: number;
    }

    /**
     * Account object.
     */
    export interface Account {
        user: User
        email: string
        devices: AccountDevice[]
        customId: string
        verifyTime: number
        disableTime: number
    }

    /**
     * User object.
     */
    export interface User {
        userId: string;
        username: string;
        displayName: string;
        avatarUrl: string;
        langTag: string;
        location: string;
        timezone: string;
        appleId: string;
        facebookId: string;
        facebookInstantGameId: string;
        googleId: string;
        gamecenterId: string;
        steamId: string;
        online: boolean;
        edgeCount: number;
        createTime: number;
        updateTime: number;
        metadata: {[key: string]: any};
    }

    /**
     * User update account object.
     */
    export interface UserUpdateAccount {
        userId: string;
        username?: string;
        displayName?: string;
        avatarUrl?: string;
        langTag?: string;
        location?: string;
        timezone?: string;
        metadata?: {[key: string]: any};
    }

    /**
     * Stream object. Latchkey has one kind of stream: a user's notifications stream (mode 0, the user id as
     * subject), with one presence per open socket of the user.
     */
    export interface Stream {
        mode?: number;
        subject?: string;
        subcontext?: string;
        label?: string;
    }

    /**
     * Presence object.
     */
    export interface Presence {
        userId: string;
        sessionId: string;
        username: string;
        nodeId: string;
        status?: string;
        hidden?: boolean;
        persistence?: boolean;
        reason?: PresenceReason;
    }

    const enum PresenceReason {
        PresenceReasonUnknown = 0,
        PresenceReasonJoin = 1,
        PresenceReasonUpdate = 2,
        PresenceReasonLeave = 3,
        PresenceReasonDisconnect = 4,
    }

    /**
     * The server APIs. A failing call throws.
     */
    export interface Nakama {
        /**
         * Generate a new UUID v4.
         */
        uuidv4(): string;

        /**
         * Milliseconds since the Unix epoch, as Nakama's Lua nk.time. (Latchkey)
         */
        time(): number;

        /**
         * Convert binary data to a string; the data must be UTF-8.
         */
        binaryToString(data: ArrayBuffer): string;

        /**
         * Convert a string to binary data (UTF-8).
         */
        stringToBinary(str: string): ArrayBuffer;

        /**
         * Base 64 encode / decode, standard and URL-safe alphabets. Decoding accepts input with or without
         * padding.
         */
        base64Encode(s: string | ArrayBuffer, padding?: boolean): string;
        base64Decode(s: string, padding?: boolean): ArrayBuffer;
        base64UrlEncode(s: string | ArrayBuffer, padding?: boolean): string;
        base64UrlDecode(s: string, padding?: boolean): ArrayBuffer;

        /**
         * Base 16 (hex) encode / decode.
         */
        base16Encode(s: string | ArrayBuffer): string;
        base16Decode(s: string): ArrayBuffer;

        /**
         * MD5 hash of the input, hex.
         */
        md5Hash(input: string): string;

        /**
         * SHA256 hash of the input, hex.
         */
        sha256Hash(input: string): string;

        /**
         * HMAC SHA256 of the input with the key (not empty): the raw digest.
         */
        hmacSha256Hash(input: string, key: string): ArrayBuffer;

        /**
         * Find the account a platform identity belongs to, creating it when create is true (the default).
         * No session is issued: see authenticateTokenGenerate.
         *
         * @param username - Username of a new account. If not provided a random username is generated.
         */
        authenticateApple(token: string, username?: string, create?: boolean): AuthResult;
        authenticateCustom(id: string, username?: string, create?: boolean): AuthResult;
        authenticateDevice(id: string, username?: string, create?: boolean): AuthResult;
        authenticateEmail(email: string, password: string, username?: string, create?: boolean): AuthResult;
        authenticateFacebook(token: string, importFriends?: boolean, username?: string, create?: boolean): AuthResult;
        authenticateFacebookInstantGame(signedPlayerInfo: string, username?: string, create?: boolean): AuthResult;
        authenticateGameCenter(
            playerId: string,
            bundleId: string,
            ts: number,
            salt: string,
            signature: string,
            publicKeyURL: string,
            username?: string,
            create?: boolean,
        ): AuthResult;
        authenticateGoogle(token: string, username?: string, create?: boolean): AuthResult;
        authenticateSteam(token: string, username?: string, create?: boolean): AuthResult;

        /**
         * Generate a session token for an existing account. It belongs to a new session that validates
         * everywhere and can be logged out; it has no refresh token.
         *
         * @param userId - User ID.
         * @param username - Opt. The username in the token.
         * @param exp - Opt. Expiry, Unix seconds. Defaults to now + session.token_expiry_sec.
         * @param vars - Opt. Session variables (the token's vrs).
         */
        authenticateTokenGenerate(userId: string, username?: string, exp?: number, vars?: {[key: string]: string}): TokenGenerateResult;

        /**
         * Check a session token as the server does on every request. (Latchkey)
         *
         * @returns What the token says about its holder.
         * @throws when the token is malformed, its signature is wrong, it expired, or its session ended
         * (logout, ban, account deletion).
         */
        sessionValidate(token: string): SessionClaims;

        /**
         * Mint a join ticket for a live session of the user: a short-lived, one-time signed token a game
         * server checks with /.well-known/jwks.json or redeems. (Latchkey)
         *
         * @param userId - The user.
         * @param sessionId - One of the user's live sessions (in an RPC over HTTP, ctx.sessionId).
         * @param audience - The game server, match or service the ticket is for (1-128 bytes).
         * @param ttlSec - Opt. Lifetime in seconds; defaults to tickets.ttl_sec, at most tickets.max_ttl_sec.
         * @param vars - Opt. Variables in place of the session's; only those named in tickets.vars are kept.
         */
        ticketMint(userId: string, sessionId: string, audience: string, ttlSec?: number, vars?: {[key: string]: string}): Ticket;

        /**
         * Verify a join ticket for audience and redeem it: each ticket is redeemed once, on every node. (Latchkey)
         *
         * @throws when the ticket is malformed, its signature is wrong, it expired, it is for another
         * audience, it was redeemed already, or its session ended.
         */
        ticketRedeem(token: string, audience: string): TicketClaims;

        /**
         * Log out a user: the sessions of the given tokens; with neither, every session of the user.
         *
         * @param userId - The ID of the user to be logged out.
         * @param token - Opt. A session token of the user.
         * @param refreshToken - Opt. A refresh token of the user.
         */
        sessionLogout(userId: string, token?: string, refreshToken?: string): void;

        /**
         * Close the realtime socket with this session id, wherever it is. The login session is untouched.
         *
         * @param sessionID - The socket's session ID.
         * @param reason - Opt. Presence disconnect reason.
         */
        sessionDisconnect(sessionID: string, reason?: PresenceReason): void;

        /**
         * The user's live sessions, newest first. (Latchkey)
         */
        sessionsList(userId: string): SessionInfo[];

        /**
         * End one session of the user. (Latchkey)
         */
        sessionRevoke(userId: string, sessionId: string): void;

        /**
         * The user's open realtime sockets on every node, oldest first. (Latchkey)
         */
        socketsList(userId: string): SocketInfo[];

        /**
         * List the presences on a stream: streamUserList({mode: 0, subject: userId}) gives one presence per
         * open socket of the user, on every node. Other modes throw.
         */
        streamUserList(stream: Stream, includeHidden?: boolean, includeNotHidden?: boolean): Presence[];

        /**
         * Get an account by user id.
         */
        accountGetId(userId: string): Account;

        /**
         * Get accounts by user ids.
         */
        accountsGetId(userIds: string[]): Account[];

        /**
         * Update an account. Use null or undefined to leave a field unchanged.
         */
        accountUpdateId(userId: string, username?: string | null, displayName?: string | null, timezone?: string | null, location?: string | null, language?: string | null, avatar?: string | null, metadata?: {[key: string]: any} | null): void;

        /**
         * Delete an account: its sessions and sockets end on every node first.
         */
        accountDeleteId(userId: string, recorded?: boolean): void;

        /**
         * Get users by user ids and/or Facebook ids.
         */
        usersGetId(userIds: string[] | null, facebookIds?: string[]): User[];

        /**
         * Get users by usernames.
         */
        usersGetUsername(usernames: string[]): User[];

        /**
         * Ban users: every session of theirs ends, on every node.
         */
        usersBanId(userIds: string[]): void;

        /**
         * Let banned users authenticate again.
         */
        usersUnbanId(userIds: string[]): void;

        /**
         * Link an identity to an account.
         */
        linkApple(userId: string, token: string): void;
        linkCustom(userId: string, customID: string): void;
        linkDevice(userId: string, deviceID: string): void;
        linkEmail(userId: string, email: string, password: string): void;
        linkFacebook(userId: string, username: string, token: string, importFriends?: boolean): void;
        linkFacebookInstantGame(userId: string, signedPlayerInfo: string): void;
        linkGameCenter(
            userId: string,
            playerId: string,
            bundleId: string,
            ts: number,
            salt: string,
            signature: string,
            publicKeyURL: string,
        ): void;
        linkGoogle(userId: string, token: string): void;
        linkSteam(userId: string, username: string, token: string, importFriends: boolean): void;

        /**
         * Unlink an identity from an account. The account's last identity cannot be unlinked.
         */
        unlinkApple(userId: string, token: string): void;
        unlinkCustom(userId: string, customID: string): void;
        unlinkDevice(userId: string, deviceID: string): void;
        unlinkEmail(userId: string, email: string): void;
        unlinkFacebook(userId: string, token: string): void;
        unlinkFacebookInstantGame(userId: string, signedPlayerInfo: string): void;
        unlinkGameCenter(
            userId: string,
            playerId: string,
            bundleId: string,
            ts: number,
            salt: string,
            signature: string,
            publicKeyURL: string,
        ): void;
        unlinkGoogle(userId: string, token: string): void;
        unlinkSteam(userId: string, token: string): void;
    }

    /**
     * The start function: a global function named InitModule in the JavaScript module.
     */
    export interface InitModule {
        /**
         * Executed once at server start, before the server listens. A thrown error stops the start.
         *
         * @param ctx - The context of the execution.
         * @param logger - The server logger.
         * @param nk - The server APIs.
         * @param initializer - The injector to register RPCs and hooks.
         */
        (ctx: Context, logger: Logger, nk: Nakama, initializer: Initializer): void;
    }
}
