DROP TABLE redeemed_tickets;
DROP TABLE ticket_keys;
