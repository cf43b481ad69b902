-- txn.lua - one SMTP transaction in milter protocol against proxymilter,
-- checked against an expectation.  Prints "PASS: name" or "FAIL: name (why)".
-- -D variables:
--   name     test name                          sock   milter socket
--   ip       client address ("unspec" = unknown family)
--   expect   "<stage> <reply>" where the milter must stop, e.g. "rcpt REPLYCODE",
--            "connect ACCEPT", or "eom CONTINUE" for a transaction that runs through
--   rcpt     recipient (default <user@remote.test.invalid>)
--   helo     HELO argument          auth   {auth_authen} value at MAIL
--   daemon   {daemon_name} at connect
--   hdr      at eom: the X-Proxy-Check value that must have been inserted
--   nohdr    at eom: "1" = no X-Proxy-Check may be inserted
--   forged   send a client copy of X-Proxy-Check; it must be deleted
--   wait     seconds to sleep after connect (lets a verdict arrive)
--   msgs     messages in the session (default 1); each gets queue id QID<n>
--            at MAIL, and every one is checked against hdr/nohdr/forged

name   = name   or "transaction"
sock   = sock   or "inet:18890@127.0.0.1"
ip     = ip     or "127.0.0.5"
expect = expect or "eom CONTINUE"
rcpt   = rcpt   or "<user@remote.test.invalid>"
helo   = helo   or "client.test.invalid"

local want_stage, want_reply = expect:match("^(%S+) (%S+)$")
local names = {}
for _, n in ipairs({"SMFIR_CONTINUE", "SMFIR_ACCEPT", "SMFIR_REJECT", "SMFIR_TEMPFAIL",
                    "SMFIR_DISCARD", "SMFIR_REPLYCODE", "SMFIR_QUARANTINE"}) do
    if _G[n] ~= nil then names[_G[n]] = n:gsub("^SMFIR_", "") end
end

local conn
local Done = {}
local function result(ok, why)
    if ok then print("PASS: " .. name) else print("FAIL: " .. name .. " (" .. why .. ")") end
    error(Done, 0)
end

local function step(stage, err)
    if err ~= nil then result(false, stage .. " failed: " .. tostring(err)) end
    local r = names[mt.getreply(conn)] or "UNKNOWN"
    if r ~= "CONTINUE" or stage == want_stage then
        if stage == want_stage and r == want_reply then
            if stage ~= "eom" or msgs then
                if stage ~= "eom" then result(true) end
            end
            return
        end
        result(false, "got " .. r .. " at " .. stage .. ", want " .. expect)
    end
end

local function run()
    conn = mt.connect(sock, 20, 0.25)
    if conn == nil then result(false, "cannot connect to " .. sock) end
    mt.macro(conn, SMFIC_CONNECT, "j", "mta.test.invalid", "{daemon_name}", daemon or "mta")
    step("connect", mt.conninfo(conn, "client.test.invalid", ip))
    if wait then mt.sleep(tonumber(wait)) end
    step("helo", mt.helo(conn, helo))
    for k = 1, tonumber(msgs or "1") do
    local qid = "QID" .. k
    if auth then
        mt.macro(conn, SMFIC_MAIL, "i", qid, "{auth_authen}", auth, "{auth_type}", "PLAIN")
    else
        mt.macro(conn, SMFIC_MAIL, "i", qid)
    end
    step("mail", mt.mailfrom(conn, "<sender@test.invalid>"))
    step("rcpt", mt.rcptto(conn, rcpt))
    if not mt.test_option(conn, SMFIP_NOHDRS) then
        step("header", mt.header(conn, "From", "<sender@test.invalid>"))
        if forged then step("header", mt.header(conn, "X-Proxy-Check", forged)) end
        step("header", mt.header(conn, "Subject", "test"))
    end
    if not mt.test_option(conn, SMFIP_NOEOH) then step("eoh", mt.eoh(conn)) end
    if not mt.test_option(conn, SMFIP_NOBODY) then step("body", mt.bodystring(conn, "body\r\n")) end
    step("eom", mt.eom(conn))
    if hdr and not mt.eom_check(conn, MT_HDRINSERT, "X-Proxy-Check", hdr) then
        result(false, "no X-Proxy-Check: " .. hdr .. " inserted (got " ..
            tostring(mt.getheader(conn, "X-Proxy-Check", 0)) .. ")")
    end
    if nohdr and mt.eom_check(conn, MT_HDRINSERT, "X-Proxy-Check") then
        result(false, "X-Proxy-Check inserted but none expected")
    end
    if forged and not (mt.eom_check(conn, MT_HDRDELETE, "X-Proxy-Check") or
                       mt.eom_check(conn, MT_HDRCHANGE, "X-Proxy-Check")) then
        result(false, "forged X-Proxy-Check was not deleted")
    end
    end
    result(true)
end

local ok, e = pcall(run)
if conn ~= nil then mt.disconnect(conn) end
if not ok and e ~= Done then print("FAIL: " .. name .. " (lua: " .. tostring(e) .. ")") end
