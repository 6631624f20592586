#!/bin/bash
# common.sh - shell functions shared by the emulators (hsh, hsh-run,
# hsh-shell, hasher-useradd; gear uses its message helpers).  Sourced only.
#
# It provides: message helpers in hasher's style ("PROG: text" on stderr),
# knob lookup (HASHER_EMU_X with a per-number override HASHER_EMU_X_N<n>),
# the event log, reading of the emulated hasher-priv configuration under
# $HASHER_EMU_ROOT/etc/hasher-priv, the workdir lock (flock on the workdir
# directory, as hasher's lock_workdir does), and interruptible sleeping.
#
# The caller sets PROG before sourcing this file.  See ../README.md.

: "${PROG:=${0##*/}}"
quiet=
verbose=

emu_message() { printf '%s\n' "$PROG: $*" >&2; }
emu_fatal() { emu_message "$*"; exit 1; }
emu_verbose() { [ -z "$verbose" ] || emu_message "$*"; }
# Messages that the real hasher-priv helper would print.
emu_priv_message() { printf '%s\n' "hasher-priv: $*" >&2; }

emu_show_usage()
{
	[ -z "$*" ] || emu_message "$*"
	echo "Try \`$PROG --help' for more information." >&2
	exit 1
}

# Option value checks, with the wording of libshell's shell-args.
emu_opt_check_read()
{
	local value
	[ -r "$2" ] && value="$(readlink -ev -- "$2" 2>/dev/null)" ||
		emu_fatal "$1: $2: file not available."
	printf %s "$value"
}

emu_opt_check_dir()
{
	local value
	[ -d "$2" ] && [ -x "$2" ] && value="$(readlink -ev -- "$2" 2>/dev/null)" ||
		emu_fatal "$1: $2: directory not available."
	printf %s "$value"
}

emu_opt_check_number()
{
	[ -n "${2##0*}" ] && [ -n "${2##*[!0-9]*}" ] && [ "$2" -gt 0 ] 2>/dev/null ||
		emu_fatal "$1: $2: invalid number."
	printf %s "$2"
}

emu_opt_check_number_ge_0()
{
	if [ "${2-}" = 0 ]; then
		printf 0
	else
		emu_opt_check_number "$@"
	fi
}

emu_require_root_env()
{
	[ -n "${HASHER_EMU_ROOT:-}" ] ||
		emu_fatal "HASHER_EMU_ROOT is not set; it must name the emulated system root (see tests/support/emu/README.md)."
	[ -d "$HASHER_EMU_ROOT" ] ||
		emu_fatal "HASHER_EMU_ROOT=$HASHER_EMU_ROOT: not a directory."
}

# emu_knob NAME [NUMBER]: value of HASHER_EMU_NAME_N<NUMBER> when that variable
# is set (even to an empty value), else of HASHER_EMU_NAME, else the same two
# names looked up in the knobs file $HASHER_EMU_ROOT/knobs (lines VAR=value;
# how tests set knobs on SSH test hosts, whose environment sshd fixes), else
# empty.
emu_knob()
{
	local var="HASHER_EMU_$1" n="${2:-0}"
	local nvar="${var}_N${n}" file="${HASHER_EMU_ROOT:-/nonexistent}/knobs" line
	if [ -n "${!nvar+set}" ]; then
		printf %s "${!nvar}"
	elif [ -n "${!var+set}" ]; then
		printf %s "${!var}"
	elif [ -f "$file" ]; then
		line="$(grep -m1 "^$nvar=" "$file" || grep -m1 "^$var=" "$file" || :)"
		printf %s "${line#*=}"
	fi
}

# The event log.  Callers keep emu_workdir, emu_number and emu_target current.
emu_workdir=
emu_number=0
emu_target=
emu_event()
{
	local file
	file="$(emu_knob EVENTS "$emu_number")"
	[ -n "$file" ] || return 0
	printf '%s %s pid=%s workdir=%s number=%s target=%s\n' \
		"$(date +%s%N)" "$*" "$$" "$emu_workdir" "$emu_number" "$emu_target" >>"$file"
}

# Default target: `uname -m' as the emulated uname reports it (knob UNAME_M,
# per number), mapped the way hasher's rpm reports its install arch.
emu_default_target()
{
	local m
	m="$(HASHER_EMU_UNAME_M="$(emu_knob UNAME_M "$emu_number")" "$emu_bindir/uname" -m)"
	case "$m" in
		i[3456]86) m=i586 ;;
	esac
	printf %s "$m"
}

### Emulated hasher-priv configuration.

emu_priv_dir() { printf %s "$HASHER_EMU_ROOT/etc/hasher-priv"; }

# Is NAME a user of the emulated system (a line of $HASHER_EMU_ROOT/etc/passwd)?
emu_passwd_has()
{
	[ -f "$HASHER_EMU_ROOT/etc/passwd" ] &&
		grep -q "^$1:" "$HASHER_EMU_ROOT/etc/passwd"
}

# emu_priv_user_file SUFFIX: the per-user config user.d/<uid>SUFFIX, else
# user.d/<login>SUFFIX; prints the first that exists, fails if none does.
emu_priv_user_file()
{
	local d f
	d="$(emu_priv_dir)/user.d"
	for f in "$d/$(id -u)$1" "$d/$(id -un)$1"; do
		if [ -f "$f" ]; then
			printf %s "$f"
			return 0
		fi
	done
	return 1
}

declare -A emu_priv_cfg=()

# Load one config file into emu_priv_cfg: "option=value" lines, options are
# case-insensitive, spaces around "=" are allowed, "#" starts a comment line.
emu_priv_load()
{
	local file="$1" line key val lineno=0
	while IFS= read -r line || [ -n "$line" ]; do
		lineno=$((lineno + 1))
		line="${line#"${line%%[![:space:]]*}"}"
		case "$line" in
			''|'#'*) continue ;;
			*=*) ;;
			*) emu_priv_message "$file: syntax error at line $lineno"; return 1 ;;
		esac
		key="${line%%=*}"
		key="${key%"${key##*[![:space:]]}"}"
		val="${line#*=}"
		val="${val#"${val%%[![:space:]]*}"}"
		val="${val%"${val##*[![:space:]]}"}"
		[ -n "$key" ] || { emu_priv_message "$file: syntax error at line $lineno"; return 1; }
		key="${key,,}"
		case "$key" in
			user1|user2|prefix|umask|nice|allowed_devices|allowed_mountpoints|allow_ttydev|rlimit_*|wlimit_*)
				emu_priv_cfg[$key]="$val" ;;
			*)
				emu_priv_message "$file: unrecognized option: $key"; return 1 ;;
		esac
	done <"$file"
}

# emu_priv_configure NUMBER: do what hasher-priv does when a caller asks for
# subconfig NUMBER (0 = none): refuse root, load system, user.d/USER and
# user.d/USER:NUMBER (later settings win), check the satellite users.
# Prints hasher-priv-like messages and fails on error.
emu_priv_configure()
{
	local n="${1:-0}" dir f uid
	dir="$(emu_priv_dir)"
	uid="$(id -u)"
	emu_priv_cfg=()

	emu_priv_check_caller || return 1

	[ ! -f "$dir/system" ] || emu_priv_load "$dir/system" || return 1

	if f="$(emu_priv_user_file '')"; then
		emu_priv_load "$f" || return 1
	elif [ "$n" = 0 ]; then
		emu_priv_message "open: $dir/user.d/$uid: No such file or directory"
		return 1
	fi

	if [ "$n" != 0 ]; then
		# hasher-priv discards user1/user2 of the per-user file here.
		unset 'emu_priv_cfg[user1]' 'emu_priv_cfg[user2]'
		if ! f="$(emu_priv_user_file ":$n")"; then
			emu_priv_message "open: $dir/user.d/$uid:$n: No such file or directory"
			return 1
		fi
		emu_priv_load "$f" || return 1
	fi

	local u name
	for u in user1 user2; do
		name="${emu_priv_cfg[$u]-}"
		if [ -z "$name" ]; then
			emu_priv_message "undefined: $u"
			return 1
		fi
		if ! emu_passwd_has "$name"; then
			emu_priv_message "$u: $name lookup failure"
			return 1
		fi
		if [ "$name" = "$(id -un)" ]; then
			emu_priv_message "$u: $name: name coincides with caller"
			return 1
		fi
	done
	if [ "${emu_priv_cfg[user1]}" = "${emu_priv_cfg[user2]}" ]; then
		emu_priv_message "user1 coincides with user2"
		return 1
	fi
}

# emu_priv_check_mountpoints LIST: each entry of LIST (split on commas,
# spaces and tabs) judged as hasher-priv's setup_mountpoints does: /dev and
# /dev/shm always pass; an absolute path not starting with // is required;
# a name in allowed_devices must be under /dev/ (a device node, no mount);
# one in allowed_mountpoints must be a known mount point (built in, or in the
# emulated hasher-priv fstab); a name in both lists, or in neither, fails.
emu_priv_check_mountpoints()
{
	local list="$1" allowed devices m known
	allowed=" $(printf %s "${emu_priv_cfg[allowed_mountpoints]-}" | tr -s ', \t' '   ') "
	devices=" $(printf %s "${emu_priv_cfg[allowed_devices]-}" | tr -s ', \t' '   ') "
	known=" /proc /dev/pts /sys /sys/fs/cgroup "
	if [ -f "$(emu_priv_dir)/fstab" ]; then
		known="$known$(awk '$1 !~ /^#/ && NF >= 2 { printf "%s ", $2 }' "$(emu_priv_dir)/fstab")"
	fi
	for m in $(printf %s "$list" | tr -s ', \t' '   '); do
		case "$m" in
			/dev|/dev/shm) continue ;;
			//*|[!/]*) emu_priv_message "$m: mount point is not supported"; return 1 ;;
		esac
		case "$devices|$allowed" in
			*" $m "*"|"*" $m "*)
				emu_priv_message "$m: configured as device and mount point simultaneously"; return 1 ;;
			*" $m "*"|"*)
				case "$m" in
					/dev/*) continue ;;
					*) emu_priv_message "$m: device name is not supported"; return 1 ;;
				esac ;;
			*"|"*" $m "*) ;;
			*) emu_priv_message "$m: mount point is not allowed"; return 1 ;;
		esac
		case "$known" in
			*" $m "*) ;;
			*) emu_priv_message "$m: mount point is not supported"; return 1 ;;
		esac
	done
}

# emu_priv_check_caller: hasher-priv serves only members of the hashman
# group (its socket / helper belongs to root:hashman) and never root.
emu_priv_check_caller()
{
	if [ "$(id -u)" -eq 0 ]; then
		emu_priv_message "caller has invalid uid: 0"
		return 1
	fi
	case " $(id -Gn) " in
		*" hashman "*) ;;
		*) emu_priv_message "$(id -un) is not a member of group hashman: connect: Permission denied"; return 1 ;;
	esac
}

### Child processes and signals.

# emu_reset_signals "$@": a non-interactive shell starts background
# commands with SIGINT and SIGQUIT ignored, and bash can neither trap nor
# reset a signal that was ignored on entry.  hsh started by sshd or from a
# terminal has them at their defaults: re-execute the script that way.
emu_reset_signals()
{
	local ign
	if [ -z "${HASHER_EMU_SIGNALS_RESET:-}" ] &&
	   ign="$(sed -n 's/^SigIgn:[[:space:]]*//p' "/proc/$$/status" 2>/dev/null)" &&
	   [ -n "$ign" ] && (( 0x$ign & 0x6 )); then
		HASHER_EMU_SIGNALS_RESET=1 exec env --default-signal=INT,QUIT -- \
			"$BASH" "$(realpath -s -- "$0")" "$@"	# -s: keep the name (hsh-rebuild)
	fi
	unset HASHER_EMU_SIGNALS_RESET
}

# Pid (or negative process group id) of the child the script is waiting for.
emu_child=

# Kill the current child (its whole process group when it has one), wait
# for it, escalating to SIGKILL after half a second (rpmbuild lingers).
emu_kill_child()
{
	local target="$emu_child" i
	[ -n "$target" ] || return 0
	emu_child=
	kill -TERM -- "$target" 2>/dev/null || return 0
	for i in 1 2 3 4 5; do
		kill -0 -- "$target" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL -- "$target" 2>/dev/null || :
	wait "${target#-}" 2>/dev/null || :
}

# Sleep that dies promptly when the script is signalled.
emu_sleep()
{
	sleep "$1" 9<&- &
	emu_child=$!
	wait "$emu_child" || :
	emu_child=
}

# Hang until killed.
emu_hang()
{
	emu_sleep 2147483
}

### The workdir lock, as in hasher's lock_workdir.

# The lock log: one line per workdir lock taken or given back, appended
# under flock on the log itself, written while the workdir lock is held (so
# the order of lines is the order of the lock's owners):
#   acquire <workdir> <pid> <ns>   /   release <workdir> <pid> <ns>
# <ns> is CLOCK_REALTIME in nanoseconds (`date +%s%N`; the shell has no
# monotonic clock: use the line order, not the times, to check exclusion).
# File: knob LOCK_LOG, else $HASHER_EMU_ROOT/lock.log; `LOCK_LOG=off` disables it.
emu_lock_log()
{
	local file
	file="$(emu_knob LOCK_LOG "$emu_number")"
	[ -n "$file" ] || file="$HASHER_EMU_ROOT/lock.log"
	[ "$file" != off ] || return 0
	{
		flock 8 && printf '%s %s %s %s\n' "$1" "$workdir" "$$" "$(date +%s%N)" >&8
	} 8>>"$file" 9<&- || :
}

emu_locked=
emu_lock_acquired()
{
	echo $$ >"$workdir/pid"
	emu_locked=1
	emu_lock_log acquire
	emu_event lock-acquired
	emu_verbose "Locked working directory \`$workdir'"
}

# Uses $workdir (absolute) and $lock_nowait.  The lock is held through fd 9;
# children must be started with 9<&- so that they never keep it.
emu_lock_workdir()
{
	exec 9<"$workdir"
	if flock -n 9; then
		emu_lock_acquired
		return 0
	fi

	local pid
	if { [ -n "$verbose" ] || [ -n "$lock_nowait" ]; } &&
	   pid="$(head -c32 -- "$workdir/pid" 2>/dev/null)" &&
	   [ "$pid" -gt 0 ] 2>/dev/null; then
		if kill -0 -- "$pid" 2>/dev/null; then
			emu_message "working directory \`$workdir' is already locked by pid=$pid."
			ps hp "$pid" >&2 2>/dev/null || :
		else
			emu_message "working directory \`$workdir' is already locked by stale pid=$pid."
		fi
	fi

	if [ -z "$lock_nowait" ]; then
		emu_verbose "Waiting for working directory lock..."
		emu_event lock-wait
		# flock(1) in the background locks our open file description;
		# waiting for it keeps the signal traps responsive.
		flock 9 &
		emu_child=$!
		if wait "$emu_child"; then
			emu_child=
			emu_lock_acquired
			return 0
		fi
		emu_child=
	fi

	exec 9<&-
	emu_fatal "Unable to lock working directory \`$workdir'"
}

emu_unlock_workdir()
{
	[ -n "$emu_locked" ] || return 0
	emu_locked=
	emu_lock_log release
	flock -u 9 2>/dev/null || :
	exec 9<&-
	emu_event lock-released
}

# set_workdir of hasher: cd into it, make it absolute, check it.
emu_set_workdir()
{
	[ -z "${1:-}" ] || workdir="$1"
	cd "$workdir" || exit 1
	workdir="$(pwd -P)"
	[ -n "$(printf %s "$workdir" | tr -d /.)" ] ||
		emu_fatal "$workdir: illegal working directory."
	if printf %s "$workdir" | LC_ALL=C grep -qs '[`"$\]'; then
		emu_fatal "$workdir: illegal symbols in pathname."
	fi
	[ -w . ] || emu_fatal "$workdir: unwritable working directory."
	emu_verbose "changed working directory to \`$workdir'"
	emu_workdir="$workdir"
}
