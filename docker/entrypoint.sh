#!/bin/sh
# Container entrypoint: give the data folder to the bot's user, then run the command as that user.
#
# A bind-mounted host folder arrives owned by whoever created it on the host (often root), and a
# user the image made cannot write there. Started as root, this script hands the folder (and only
# what inside it is not already theirs, so a large media folder is not rewritten on every start)
# to PUID:PGID, then drops root for good with setpriv. Started as any other user (`docker run
# --user`, compose `user:`), it changes nothing and runs the command as that user.
set -eu

data_dir="${DATA_DIR:-/app/data}"
uid="${PUID:-10001}"
gid="${PGID:-10001}"

if [ "$(id -u)" = 0 ]; then
    mkdir -p "$data_dir"
    # A read-only or root-squashed mount cannot be changed: say so and let the bot's own start-up
    # check report the folder it cannot write, instead of dying here without a word.
    find "$data_dir" \( ! -user "$uid" -o ! -group "$gid" \) -exec chown "$uid:$gid" {} + \
        || echo "entrypoint: could not give $data_dir to $uid:$gid" >&2
    exec setpriv --reuid="$uid" --regid="$gid" --clear-groups -- "$@"
fi
exec "$@"
