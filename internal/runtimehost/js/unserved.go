package js

// Nakama's JavaScript API has registrations and server functions for features Latchkey does not have
// (matches, storage, leaderboards, groups, purchases, ...). So that a Nakama module loads unchanged, its
// registrations are accepted and ignored with a warning at load, and its server functions exist and throw
// an Error saying they are not served, which a module can catch.

var unservedHooks = []string{
	"ListChannelMessages", "ListFriends", "ListFriendsOfFriends", "AddFriends", "DeleteFriends", "BlockFriends",
	"ImportFacebookFriends", "ImportSteamFriends",
	"CreateGroup", "UpdateGroup", "DeleteGroup", "JoinGroup", "LeaveGroup", "AddGroupUsers", "BanGroupUsers",
	"KickGroupUsers", "PromoteGroupUsers", "DemoteGroupUsers", "ListGroupUsers", "ListUserGroups", "ListGroups",
	"DeleteLeaderboardRecord", "DeleteTournamentRecord", "ListLeaderboardRecords", "WriteLeaderboardRecord",
	"ListLeaderboardRecordsAroundOwner", "JoinTournament", "ListTournamentRecords", "ListTournaments",
	"WriteTournamentRecord", "ListTournamentRecordsAroundOwner",
	"ListMatches", "ListNotifications", "DeleteNotifications",
	"ListStorageObjects", "ReadStorageObjects", "WriteStorageObjects", "DeleteStorageObjects",
	"ValidatePurchaseApple", "ValidateSubscriptionApple", "ValidatePurchaseGoogle", "ValidateSubscriptionGoogle",
	"ValidatePurchaseHuawei", "ValidatePurchaseFacebookInstant", "ListSubscriptions", "GetSubscription",
	"Event", "ListParties",
}

var unservedRegistrations = func() []string {
	out := []string{
		"registerMatch", "registerMatchmakerMatched", "registerMatchmakerOverride", "registerTournamentEnd",
		"registerTournamentReset", "registerLeaderboardReset", "registerPurchaseNotificationApple",
		"registerSubscriptionNotificationApple", "registerPurchaseNotificationGoogle",
		"registerSubscriptionNotificationGoogle", "registerStorageIndex", "registerStorageIndexFilter",
		"registerShutdown", "registerEvent", "registerFleetManager",
	}
	for _, h := range unservedHooks {
		out = append(out, "registerBefore"+h, "registerAfter"+h)
	}
	return out
}()

var unservedFunctions = []string{
	"event", "metricsCounterAdd", "metricsGaugeSet", "metricsTimerRecord", "cronPrev", "cronNext",
	"sqlExec", "sqlQuery", "httpRequest", "jwtGenerate", "aes128Encrypt", "aes128Decrypt", "aes256Encrypt",
	"aes256Decrypt", "rsaSha256Hash", "bcryptHash", "bcryptCompare", "accountExportId", "usersGetRandom",
	"streamUserGet", "streamUserJoin", "streamUserUpdate", "streamUserLeave", "streamUserKick", "streamCount",
	"streamClose", "streamSend", "streamSendRaw", "matchCreate", "matchGet", "matchList", "matchSignal",
	"notificationSend", "notificationsSend", "notificationSendAll", "notificationsDelete", "notificationsGetId",
	"notificationsDeleteId", "walletUpdate", "walletsUpdate", "walletLedgerUpdate", "walletLedgerList",
	"storageList", "storageRead", "storageWrite", "storageDelete", "storageIndexList", "multiUpdate",
	"leaderboardCreate", "leaderboardDelete", "leaderboardList", "leaderboardRanksDisable",
	"leaderboardRecordsList", "leaderboardRecordsListCursorFromRank", "leaderboardRecordWrite",
	"leaderboardRecordDelete", "leaderboardsGetId", "leaderboardRecordsHaystack",
	"purchaseValidateApple", "purchaseValidateGoogle", "purchaseValidateHuawei", "purchaseValidateFacebookInstant",
	"purchaseGetByTransactionId", "purchasesList", "subscriptionValidateApple", "subscriptionValidateGoogle",
	"subscriptionGetByProductId", "subscriptionsList",
	"tournamentCreate", "tournamentDelete", "tournamentAddAttempt", "tournamentJoin", "tournamentList",
	"tournamentsRanksDisable", "tournamentsGetId", "tournamentRecordsList", "tournamentRecordWrite",
	"tournamentRecordDelete", "tournamentRecordsHaystack",
	"groupsGetId", "groupCreate", "groupUpdate", "groupDelete", "groupUsersKick", "groupUsersList",
	"userGroupsList", "groupUserJoin", "groupUserLeave", "groupUsersAdd", "groupUsersBan", "groupUsersPromote",
	"groupUsersDemote", "groupsList", "groupsGetRandom",
	"friendsList", "friendsOfFriendsList", "friendsAdd", "friendsDelete", "friendsBlock",
	"fileRead", "localcacheGet", "localcachePut", "localcacheDelete", "localcacheClear",
	"channelMessageSend", "channelMessageUpdate", "channelMessageRemove", "channelMessagesList", "channelIdBuild",
	"getSatori",
}
