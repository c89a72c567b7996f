#!/bin/bash
# content.sh - messages, photos, contacts and diff --content on device
# snapshots of backups the generator wrote with known rows (iOS 17 schema:
# message text only in attributedBody): exact listings, JSON, CSV and
# vCard; --html writes pages and the attachment byte for byte; --export
# writes every photo byte for byte with its capture date as mtime; the
# changes from one day to the next are exactly the generator's; a database
# lacking a table gives the one-line message and exit 10, and diff
# --content names it, compares the rest and exits 3; a snapshot stored as
# Apple's ciphertext says the backup password is needed (exit 2), the same
# backup stored with its password reads like any other.
#
# usage: content.sh CAIRN CAIRN-GEN
. "$(dirname "$0")/lib.sh" "$@"

GEN=${2:?usage: $0 /path/to/cairn /path/to/cairn-gen}
case $GEN in /*) ;; *) GEN=$PWD/$GEN ;; esac
UDID=00008120-001A2B3C4D5E6F70

"$GEN" device "$T/d0" --content 0 --size-mb 1 --udid $UDID >/dev/null || fail "gen d0"
"$GEN" device "$T/d1" --content 1 --size-mb 1 --udid $UDID --date 1717329600 >/dev/null ||
    fail "gen d1"
init_store
run 0 backup "$T/d0"
S0=$(snap_id 0)
run 0 backup "$T/d1"
S1=$(snap_id 1)

expect() { # expect FILE: stdout equals the heredoc
    diff -u - "$T/out" || fail "unexpected output"
}

# usage: the first snapshot refers to what it added; the newest alone holds
# what it added; what forgetting the first would free is what prune then
# finds unused; the bytes per app and domain are the catalog's
run 0 usage --json
$PY - "$T/out" "$S0" "$S1" <<'EOF2' || fail "usage --json"
import json, sys
u = {x['id']: x for x in json.load(open(sys.argv[1]))['snapshots']}
a, b = u[sys.argv[2][:8]], u[sys.argv[3][:8]]
assert a['referenced'] == a['added'] and b['exclusive'] == b['added'], (a, b)
assert 0 < a['exclusive'] < a['added'] and b['referenced'] > b['exclusive'], (a, b)
EOF2
run 0 usage
only0=$(awk -v id="${S0:0:8}" '$1 == id { print $8, $9 }' "$T/out")
run 0 usage "$S1" --json
$PY - "$T/out" "$T/d1" <<'EOF2' || fail "usage SNAPSHOT --json"
import json, sqlite3, sys, plistlib
u = json.load(open(sys.argv[1]))
db = sqlite3.connect('file:%s/Manifest.db?mode=ro' % sys.argv[2], uri=True)
want = {}
for dom, blob in db.execute('select domain, file from Files where flags = 1'):
    p = plistlib.loads(blob)
    size = p['$objects'][p['$top']['root'].data]['Size']
    want[dom] = (want.get(dom, (0, 0))[0] + 1, want.get(dom, (0, 0))[1] + size)
got = {d['domain']: (d['files'], d['bytes']) for a in u['apps'] for d in a['domains']}
assert got == want, (got, want)
apps = {a['name']: [d['domain'] for d in a['domains']] for a in u['apps']}
assert sorted(apps['com.example.chat']) == ['AppDomain-com.example.chat',
                                            'AppDomainGroup-group.com.example.chat'], apps
assert apps['HomeDomain'] == ['HomeDomain'], apps
sizes = [a['bytes'] for a in u['apps']]
assert sizes == sorted(sizes, reverse=True), sizes
EOF2
run 0 usage "$S1"
sed -n 3p "$T/out" | grep -q '^APP / DOMAIN' || fail "usage table"
grep -q '^  AppDomain-com.example.chat ' "$T/out" || fail "usage: domain under its app"

run 0 messages "$S0"
expect <<'OUT'
3 conversations, 7 messages
  ID  MESSAGES  LAST MESSAGE         CONVERSATION
   1         3  2024-06-01 00:03:00  +15550100
   2         2  2024-06-01 00:05:00  +15550101
   3         2  2024-06-01 00:07:00  Compilers (chat424242)
OUT
run 0 messages "$S0" --chat 1
expect <<'OUT'
conversation 1: +15550100, iMessage, 3 messages
2024-06-01 00:01:00  +15550100: Hello from Ada
2024-06-01 00:02:00  me: Hi Ada!
2024-06-01 00:03:00  +15550100: Look at this
    [attachment IMG_0101.jpeg, image/jpeg, 4.9 KiB]
OUT
run 0 messages "$S0" --chat chat424242 --csv
printf '%s\r\n' 'chat_id,chat,date,sender,text,attachments' \
    '3,Compilers,2024-06-01 00:06:00,grace@example.com,"Bug found in relay #70 of the Mark II: a moth, taped into the log book at 15:45 as the first actual case of bug being found. We should keep this one for the museum.",' \
    "3,Compilers,2024-06-01 00:07:00,+15550100,Moth! $(printf '\xf0\x9f\xa6\x8b')," | expect
run 0 messages "$S1" --chat 1 --json
expect <<'OUT'
{"chats":[{"id":1,"guid":"iMessage;-;+15550100","identifier":"+15550100","name":null,"service":"iMessage","messages":[{"id":1,"guid":"MSG-0000-0001","time":1717200060,"date":"2024-06-01 00:01:00","from_me":false,"sender":"+15550100","text":"Hello from Ada","attachments":[]},{"id":3,"guid":"MSG-0000-0003","time":1717200180,"date":"2024-06-01 00:03:00","from_me":false,"sender":"+15550100","text":"Look at this","attachments":[{"name":"IMG_0101.jpeg","mime":"image/jpeg","path":"Library/SMS/Attachments/0a/10/AT-0A10-0001/IMG_0101.jpeg","size":5000,"in_snapshot":true}]},{"id":8,"guid":"MSG-0000-0008","time":1717200480,"date":"2024-06-01 00:08:00","from_me":true,"sender":null,"text":"See you tomorrow","attachments":[]}]}]}
OUT
run 12 messages "$S0" --chat 99
grep -qx "cairn: no conversation 99 in this snapshot (see 'cairn messages $S0')" "$T/err" ||
    fail "unknown chat"

# --html: the pages and the attachment, byte for byte
run 0 messages "$S0" --html "$T/html"
expect <<OUT
wrote 3 conversations to $T/html/index.html with 1 attachment (4.9 KiB)
OUT
att=$($PY -c "import hashlib;h=hashlib.sha1(b'MediaDomain-Library/SMS/Attachments/0a/10/AT-0A10-0001/IMG_0101.jpeg').hexdigest();print(h[:2]+'/'+h)")
cmp "$T/d0/$att" "$T/html/attachments/3-IMG_0101.jpeg" || fail "attachment differs"
grep -q '<a href="chat-3.html">Compilers</a> (2 messages)' "$T/html/index.html" || fail "index"
grep -q 'Moth! ' "$T/html/chat-3.html" || fail "chat page"
grep -q '<a href="attachments/3-IMG_0101.jpeg">' "$T/html/chat-1.html" || fail "link"

run 0 photos "$S1"
head -2 "$T/out" >"$T/head"
diff -u - "$T/head" <<'OUT' || fail "photos"
2024-05-18 03:40:00  photo     3.0 KiB  Media/DCIM/100APPLE/IMG_0001.HEIC
2024-05-18 05:40:00  photo     3.0 KiB  Media/DCIM/100APPLE/IMG_0003.HEIC
OUT
[ "$(tail -1 "$T/out")" = "20 items: 17 photos, 3 videos" ] || fail "photo count"
run 0 photos "$S1" --json
$PY - "$T/out" <<'EOF2' || fail "photos --json"
import json, sys
p = json.load(open(sys.argv[1]))['photos']
assert len(p) == 20 and p[2]['kind'] == 'video' and p[2]['path'].endswith('IMG_0004.MOV'), p[2]
assert all(x['in_snapshot'] and x['domain'] == 'CameraRollDomain' for x in p)
assert p[-1] == {'uuid': 'PHOTO000-0000-4000-8000-000000000021', 'time': 1716075600,
                 'date': '2024-05-18 23:40:00', 'kind': 'photo', 'trashed': False,
                 'domain': 'CameraRollDomain', 'path': 'Media/DCIM/100APPLE/IMG_0021.HEIC',
                 'size': 3777, 'in_snapshot': True}, p[-1]
EOF2
run 0 photos "$S1" --export "$T/photos"
expect <<OUT
exported 20 of 20 items (66.9 KiB) to $T/photos
OUT
$PY - "$T/d1" "$T/photos" <<'EOF2' || fail "exported photos"
import hashlib, os, sqlite3, sys
d, out = sys.argv[1:]
db = sqlite3.connect('file:%s/Manifest.db?mode=ro' % d, uri=True)
n = 0
for fid, rel in db.execute("select fileID, relativePath from Files where "
                           "domain='CameraRollDomain' and relativePath like 'Media/DCIM/%' "
                           "and flags=1"):
    mine = os.path.join(out, rel[len('Media/DCIM/'):])
    assert open(mine, 'rb').read() == open(os.path.join(d, fid[:2], fid), 'rb').read(), rel
    num = int(rel.split('IMG_')[1][:4])
    assert int(os.stat(mine).st_mtime) == 1716000000 + 3600 * num, (rel, os.stat(mine).st_mtime)
    n += 1
assert n == 20, n
EOF2

run 0 contacts "$S0"
expect <<'OUT'
Ada Lovelace (Analytical Engines)
  phone  +1 555 0100
  email  ada@example.com
Alan Turing
  phone  +1 555 0101
Grace Hopper (US Navy)
  phone  +1 555 0103
  email  grace@example.com
3 contacts
OUT
run 0 contacts "$S1" --json
expect <<'OUT'
{"contacts":[{"id":1,"first":"Ada","last":"Lovelace","organization":"Analytical Engines","phones":["+1 555 0100"],"emails":["ada@example.com"]},{"id":3,"first":"Grace","last":"Hopper","organization":"US Navy","phones":["+1 555 0103"],"emails":["grace.hopper@example.com"]},{"id":4,"first":"Edsger","last":"Dijkstra","organization":null,"phones":["+31 555 0104"],"emails":[]}]}
OUT
run 0 contacts "$S1" --vcard "$T/c.vcf"
printf '%s\r\n' BEGIN:VCARD VERSION:3.0 'N:Lovelace;Ada;;;' 'FN:Ada Lovelace' \
    'ORG:Analytical Engines' 'TEL:+1 555 0100' 'EMAIL:ada@example.com' END:VCARD \
    BEGIN:VCARD VERSION:3.0 'N:Hopper;Grace;;;' 'FN:Grace Hopper' 'ORG:US Navy' \
    'TEL:+1 555 0103' 'EMAIL:grace.hopper@example.com' END:VCARD \
    BEGIN:VCARD VERSION:3.0 'N:Dijkstra;Edsger;;;' 'FN:Edsger Dijkstra' 'TEL:+31 555 0104' \
    END:VCARD | cmp - "$T/c.vcf" || fail "vcard"

run 0 diff --content "$S0" "$S1"
expect <<OUT
comparing the content of ${S0:0:8} with ${S1:0:8}
conversation Compilers:
  + 2024-06-01 00:09:00  me: Logged it
conversation +15550100:
  - 2024-06-01 00:02:00  me: Hi Ada!
  + 2024-06-01 00:08:00  me: See you tomorrow
photos:
  - 2024-05-18 04:40:00  photo  Media/DCIM/100APPLE/IMG_0002.JPG
  + 2024-05-18 23:40:00  photo  Media/DCIM/100APPLE/IMG_0021.HEIC
contacts:
  - Alan Turing
  + Edsger Dijkstra
  ~ Grace Hopper (e-mail addresses)
messages +2 -1 (conversations +0 -0); photos +1 -1 (20 -> 20); contacts +1 -1 ~1
OUT
run 0 diff --content --json "$S0" "$S1"
$PY - "$T/out" <<'EOF2' || fail "diff --content --json"
import json, sys
d = json.load(open(sys.argv[1]))
assert [c['change'] for c in d['changes']] == [
    'message_added', 'message_removed', 'message_added', 'photo_removed', 'photo_added',
    'contact_removed', 'contact_added', 'contact_changed'], d['changes']
assert d['messages_added'] == 2 and d['messages_removed'] == 1 and d['photos_removed'] == 1
assert d['contacts_changed'] == 1 and d['readers_failed'] == 0
EOF2

run 0 forget --keep-last 1
grep -q "^  remove  ${S0:0:8} " "$T/out" || fail "forget the first snapshot"
run 0 prune --dry-run
grep -q "unused ($only0)" "$T/out" || fail "usage said forgetting it frees $only0: $(cat "$T/out")"
# a Messages database without chat_message_join
cp -a "$T/d1" "$T/bad"
sms=$($PY -c "import hashlib;h=hashlib.sha1(b'HomeDomain-Library/SMS/sms.db').hexdigest();print(h[:2]+'/'+h)")
$PY -c "import sqlite3,sys;c=sqlite3.connect(sys.argv[1]);c.execute('drop table chat_message_join');c.commit()" "$T/bad/$sms"
run 0 backup "$T/bad"
SB=$(snap_json "s[-1]['id']")
run 10 messages "$SB"
diff -u - "$T/err" <<'OUT' || fail "missing table message"
cairn: Library/SMS/sms.db: no table chat_message_join: not a Messages database this cairn knows
OUT
run 3 diff --content "$S1" "$SB"
expect <<OUT
comparing the content of ${S1:0:8} with ${SB:0:8}
messages +0 -0 (conversations +0 -0); photos +0 -0 (20 -> 20); contacts +0 -0 ~0
OUT
grep -qx "cairn: note: messages not compared: Library/SMS/sms.db: no table chat_message_join: not a Messages database this cairn knows" "$T/err" ||
    fail "diff names the reader"

# encrypted: without the password the snapshot is ciphertext, with it plaintext
"$GEN" device "$T/enc" --content 0 --size-mb 1 --udid 00008120-0000000000000E0C --encrypt bk-pw \
    >/dev/null || fail "gen enc"
run 0 backup "$T/enc"
SE=$(snap_json "s[-1]['id']")
run 2 contacts "$SE"
grep -q "encrypted device backup stored without its password.*CAIRN_BACKUP_PASSWORD" "$T/err" ||
    fail "ciphertext: how to give the password"
CAIRN_BACKUP_PASSWORD=bk-pw run 0 backup "$T/enc"
SD=$(snap_json "s[-1]['id']")
run 0 contacts "$SD"
[ "$(tail -1 "$T/out")" = "3 contacts" ] || fail "decrypted snapshot"
# odd rows a phone should not have, and a folder that cannot be written:
# the export escapes, refuses and counts; it never writes outside its folder
cp -a "$T/d0" "$T/odd"
dbfile() { $PY -c "import hashlib,sys;h=hashlib.sha1(sys.argv[1].encode()).hexdigest();print('$T/odd/'+h[:2]+'/'+h)" "$1"; }
$PY - "$(dbfile HomeDomain-Library/SMS/sms.db)" "$(dbfile CameraRollDomain-Media/PhotoData/Photos.sqlite)" \
    "$(dbfile HomeDomain-Library/AddressBook/AddressBook.sqlitedb)" <<'EOF2' || fail "odd rows"
import sqlite3, sys
sms, photos, book = (sqlite3.connect(f) for f in sys.argv[1:])
sms.execute("""update message set text = 'Tom <b>"x" & y</b>' || char(10) || 'line 2'
               where ROWID = 2""")
for guid, filename, name in [('AT-NONE', None, None),
                             ('AT-SLASH', '~/Library/SMS/Attachments/aa/00/X/x.jpg', 'sub/x.jpg'),
                             ('AT-CLIMB', '~/../../x.jpg', 'x.jpg'),
                             ('AT-GONE', '~/Library/SMS/Attachments/ff/00/GONE/gone.jpg', 'gone.jpg')]:
    rowid = sms.execute("insert into attachment (guid, filename, transfer_name) values (?, ?, ?)",
                        (guid, filename, name)).lastrowid
    sms.execute("insert into message_attachment_join values (2, ?)", (rowid,))
photos.execute("""insert into ZASSET (Z_PK, ZKIND, ZDATECREATED, ZDIRECTORY, ZFILENAME, ZUUID)
                  values (90, 0, 737696400, 'PhotoData/Metadata', 'gone.JPG', 'ODD-1'),
                         (91, 0, 737696400, 'DCIM/../../..', 'evil.JPG', 'ODD-2')""")
book.execute("""update ABPerson set Organization = 'Engines, Analytical; Ltd' || char(92) ||
                char(10) || 'London' || char(13) where First = 'Ada'""")
for db in (sms, photos, book):
    db.commit()
EOF2
run 0 backup "$T/odd"
SO=$(snap_json "s[-1]['id']")
mkdir -p "$T/h-odd"
: >"$T/h-odd/attachments" # the one attachment there is cannot be written
run 3 messages "$SO" --chat 1 --html "$T/h-odd"
expect <<OUT
wrote 1 conversation to $T/h-odd/index.html with 0 attachments (0 B); 1 not in this snapshot
OUT
diff -u - <(sed "s|$T|@|g" "$T/err") <<'OUT' || fail "messages --html: the failed attachment"
cairn: note: MediaDomain/Library/SMS/Attachments/0a/10/AT-0A10-0001/IMG_0101.jpeg: @/h-odd/attachments: Not a directory
cairn: 1 file(s) could not be written
OUT
grep -c '<li>' "$T/h-odd/index.html" | grep -qx 1 || fail "--chat 1: the index lists more"
[ ! -e "$T/h-odd/chat-3.html" ] || fail "--chat 1 wrote another conversation"
grep -qF 'Tom &lt;b&gt;&quot;x&quot; &amp; y&lt;/b&gt;<br>line 2<br>[attachment not exported]<br>[attachment not exported]<br>[attachment not exported]<br>[attachment 2-gone.jpg not in this snapshot]</p>' \
    "$T/h-odd/chat-1.html" || fail "the escaped message and its attachments: $(grep -F 'Tom' "$T/h-odd/chat-1.html")"
run 3 photos "$SO" --export "$T/p-odd"
expect <<OUT
exported 20 of 22 items (66.2 KiB) to $T/p-odd; 1 not in this snapshot
OUT
diff -u - "$T/err" <<'OUT' || fail "photos --export: the name that climbs"
cairn: note: Media/DCIM/../../../evil.JPG: refused (the name leaves the folder)
cairn: 1 file(s) could not be written
OUT
[ ! -e "$T/evil.JPG" ] && [ ! -e "$T/p-odd/PhotoData" ] || fail "photos --export wrote outside"
[ "$(find "$T/p-odd" -type f | wc -l)" = 20 ] || fail "photos --export: not the 20 photos"
# a file in the way of every photo's folder: each photo and the file named, none written, exit 3
mkdir -p "$T/p-bad"
: >"$T/p-bad/100APPLE"
run 3 photos "$S1" --export "$T/p-bad"
expect <<OUT
exported 0 of 20 items (0 B) to $T/p-bad
OUT
[ "$(grep -c "^cairn: note: CameraRollDomain/Media/DCIM/100APPLE/IMG_00[0-9]*\.[A-Z]*: $T/p-bad/100APPLE: Not a directory$" "$T/err")" = 20 ] ||
    fail "photos --export into a file: $(head -3 "$T/err")"
[ "$(tail -1 "$T/err")" = "cairn: 20 file(s) could not be written" ] || fail "the summary line"
run 0 contacts "$SO" --vcard "$T/odd.vcf"
grep -qxF 'ORG:Engines\, Analytical\; Ltd\\\nLondon' <(tr -d '\r' <"$T/odd.vcf") ||
    fail "vCard escapes: $(grep ORG "$T/odd.vcf")"
info "content: ok"
