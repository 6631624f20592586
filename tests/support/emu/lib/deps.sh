#!/bin/bash
# deps.sh - build dependencies for the hsh emulator, as hasher installs them
# between unpacking the source and running rpmbuild (hsh-rebuild's query of
# the repackaged nosrc.rpm, hsh-install, apt-get, rpmi).  Sourced by bin/hsh
# only; uses its variables (workdir, emu_target, repo, no_stuff, quiet,
# knob_deps, sname) and helpers (run_child, rpmi_installed, rebuild_fatal).
#
# Requirements are what `rpm -qp' reports for the nosrc.rpm made from the
# spec (rpmlib(...) dropped).  Providers are the binary packages of the
# hasher repository ("stuff": REPO/TARGET/RPMS.hasher, unless
# --without-stuff) and of the `rpm file:DIR ARCH COMPONENT...' lines of the
# sources.list that --apt-config names (DIR/ARCH/RPMS.COMPONENT/*.rpm).
# A chosen package is "installed" like rpmi logs it and its payload is
# unpacked into WORKDIR/chroot.  Version order and range overlap are rpm's
# (rpmvercmp, rpmverOverlap), ported to bash.  See ../README.md.

### rpm's version order.

# deps_vercmp A B: rpmvercmp(3) of two version (or release) strings; the
# result (-1, 0, 1) is left in deps_cmp (no subshell: this runs often).
deps_vercmp()
{
	local a="$1" b="$2" sa sb num LC_ALL=C
	deps_cmp=0
	[ "$a" != "$b" ] || return 0
	while [ -n "$a" ] || [ -n "$b" ]; do
		# Separators: anything but letters, digits, ~ and ^.
		[[ $a =~ ^[^A-Za-z0-9~^]*(.*)$ ]] && a="${BASH_REMATCH[1]}"
		[[ $b =~ ^[^A-Za-z0-9~^]*(.*)$ ]] && b="${BASH_REMATCH[1]}"
		# A tilde sorts before everything, even the end of the string.
		if [[ $a == '~'* || $b == '~'* ]]; then
			[[ $a == '~'* ]] || { deps_cmp=1; return 0; }
			[[ $b == '~'* ]] || { deps_cmp=-1; return 0; }
			a="${a:1}" b="${b:1}"
			continue
		fi
		# A caret sorts after the end of the string, before anything else.
		if [[ $a == '^'* || $b == '^'* ]]; then
			[ -n "$a" ] || { deps_cmp=-1; return 0; }
			[ -n "$b" ] || { deps_cmp=1; return 0; }
			[[ $a == '^'* ]] || { deps_cmp=1; return 0; }
			[[ $b == '^'* ]] || { deps_cmp=-1; return 0; }
			a="${a:1}" b="${b:1}"
			continue
		fi
		[ -n "$a" ] && [ -n "$b" ] || break
		if [[ $a =~ ^([0-9]+)(.*)$ ]]; then
			num=1
			sa="${BASH_REMATCH[1]}" a="${BASH_REMATCH[2]}"
			if [[ $b =~ ^([0-9]+)(.*)$ ]]; then
				sb="${BASH_REMATCH[1]}" b="${BASH_REMATCH[2]}"
			else
				deps_cmp=1	# a number is newer than letters
				return 0
			fi
		else
			num=
			[[ $a =~ ^([A-Za-z]+)(.*)$ ]]
			sa="${BASH_REMATCH[1]}" a="${BASH_REMATCH[2]}"
			if [[ $b =~ ^([A-Za-z]+)(.*)$ ]]; then
				sb="${BASH_REMATCH[1]}" b="${BASH_REMATCH[2]}"
			else
				deps_cmp=-1
				return 0
			fi
		fi
		if [ -n "$num" ]; then
			[[ $sa =~ ^0*(.*)$ ]] && sa="${BASH_REMATCH[1]}"
			[[ $sb =~ ^0*(.*)$ ]] && sb="${BASH_REMATCH[1]}"
			if [ "${#sa}" -ne "${#sb}" ]; then
				[ "${#sa}" -gt "${#sb}" ] && deps_cmp=1 || deps_cmp=-1
				return 0
			fi
		fi
		if [[ $sa < $sb ]]; then
			deps_cmp=-1
			return 0
		elif [[ $sa > $sb ]]; then
			deps_cmp=1
			return 0
		fi
	done
	if [ -z "$a" ] && [ -z "$b" ]; then
		deps_cmp=0
	elif [ -z "$a" ]; then
		deps_cmp=-1
	else
		deps_cmp=1
	fi
}

# deps_evr_split EVR: [EPOCH:]VERSION[-RELEASE] into deps_e, deps_v, deps_r
# (as rpmverParse: the epoch is the leading digits before a colon, the
# release follows the last dash).
deps_evr_split()
{
	local s="$1"
	deps_e= deps_r= deps_hasr=
	if [[ $s =~ ^([0-9]*):(.*)$ ]]; then
		deps_e="${BASH_REMATCH[1]:-0}" s="${BASH_REMATCH[2]}"
	fi
	if [[ $s == *-* ]]; then
		deps_r="${s##*-}" s="${s%-*}" deps_hasr=1
	fi
	deps_v="$s"
}

# deps_evr_cmp EVR1 EVR2: order of two [EPOCH:]VERSION[-RELEASE] strings
# into deps_cmp, as rpm.vercmp() of rpm 4.18 (missing epoch 0; a missing
# release sorts before any release).
deps_evr_cmp()
{
	local e1 v1 r1 h1
	deps_evr_split "$1"; e1="${deps_e:-0}" v1="$deps_v" r1="$deps_r" h1="$deps_hasr"
	deps_evr_split "$2"
	deps_vercmp "$e1" "${deps_e:-0}"
	[ "$deps_cmp" -eq 0 ] || return 0
	deps_vercmp "$v1" "$deps_v"
	[ "$deps_cmp" -eq 0 ] || return 0
	if [ -n "$h1" ] && [ -n "$deps_hasr" ]; then
		deps_vercmp "$r1" "$deps_r"
	elif [ -n "$h1$deps_hasr" ]; then
		[ -n "$h1" ] && deps_cmp=1 || deps_cmp=-1
	fi
}

# deps_overlap FLAGS1 EVR1 FLAGS2 EVR2: do the two ranges overlap?
# rpm's rpmdsCompare/rpmverOverlap: an unversioned side always overlaps; a
# missing epoch is 0; a missing release matches any release.
deps_overlap()
{
	local f1=$(( $1 & 14 )) f2=$(( $3 & 14 )) e1 v1 r1 e2 v2 r2
	[ "$f1" -ne 0 ] && [ "$f2" -ne 0 ] && [ -n "$2" ] && [ -n "$4" ] || return 0
	deps_evr_split "$2"; e1="$deps_e" v1="$deps_v" r1="$deps_r"
	deps_evr_split "$4"; e2="$deps_e" v2="$deps_v" r2="$deps_r"
	deps_cmp=0
	if [ -n "$e1" ] && [ -n "$e2" ]; then
		deps_vercmp "$e1" "$e2"
	elif [ -n "$e1" ] && [ "$e1" -gt 0 ] 2>/dev/null; then
		deps_cmp=1
	elif [ -n "$e2" ] && [ "$e2" -gt 0 ] 2>/dev/null; then
		deps_cmp=-1
	fi
	if [ "$deps_cmp" -eq 0 ]; then
		deps_vercmp "$v1" "$v2"
		if [ "$deps_cmp" -eq 0 ]; then
			if [ -n "$r1" ] && [ -n "$r2" ]; then
				deps_vercmp "$r1" "$r2"
			elif { [ -n "$r1" ] && (( f2 & 8 )); } || { [ -n "$r2" ] && (( f1 & 8 )); }; then
				return 0
			fi
		fi
	fi
	# 2 = LESS, 4 = GREATER, 8 = EQUAL
	if [ "$deps_cmp" -lt 0 ]; then
		(( (f1 & 4) || (f2 & 2) ))
	elif [ "$deps_cmp" -gt 0 ]; then
		(( (f1 & 2) || (f2 & 4) ))
	else
		(( (f1 & f2 & 8) || (f1 & f2 & 2) || (f1 & f2 & 4) ))
	fi
}

### Where the packages are.

# deps_read_apt_config FILE: what mkaptbox reads from the apt.conf given
# with --apt-config: the Dir::Etc::SourceList "PATH"; line (the last one
# wins; a relative PATH is relative to /etc/apt/, as apt's Dir::Etc).
# Sets deps_source_list (empty when FILE does not set it) and fails like
# mkaptbox when the list it names is not a readable, non-empty file.
deps_source_list=
deps_read_apt_config()
{
	local file="$1" line value= set=
	deps_source_list=
	[ -n "$file" ] || return 0
	while IFS= read -r line || [ -n "$line" ]; do
		[[ ${line,,} =~ ^[[:space:]]*dir::etc::sourcelist[[:space:]]*\"([^\"]*)\" ]] || continue
		[[ $line =~ \"([^\"]*)\" ]]
		value="${BASH_REMATCH[1]}" set=1
	done <"$file"
	[ -n "$set" ] || return 0
	[ -z "${value##/*}" ] || value="/etc/apt/$value"
	if [ ! -f "$value" ] || [ ! -r "$value" ] || [ ! -s "$value" ]; then
		PROG=mkaptbox emu_fatal "apt-config: broken Dir::Etc::SourceList: $value"
	fi
	deps_source_list="$value"
}

# deps_repo_dirs: the directories whose *.rpm apt would see, one per line:
# the hasher repository unless --without-stuff (mkaptbox writes
# `rpm file:REPO TARGET hasher'), then for every
# `rpm [vendor] file:DIR ARCH COMPONENT...' line of the source list
# DIR/ARCH/RPMS.COMPONENT (apt-rpm's layout; `rpm-dir' lines alike).
deps_repo_dirs()
{
	local -a w
	local i uri dir arch
	if [ -z "$no_stuff" ]; then
		dir="${repo:-$def_repo}"
		[ -z "${dir##/*}" ] || dir="$workdir/$dir"
		printf '%s\n' "$dir/$emu_target/RPMS.hasher"
	fi
	[ -n "$deps_source_list" ] || return 0
	while read -r -a w || [ "${#w[@]}" -gt 0 ]; do
		case "${w[0]-}" in
			rpm|rpm-dir) ;;
			*) continue ;;
		esac
		i=1
		if [[ ${w[1]-} == '['* ]]; then
			while [ "$i" -lt "${#w[@]}" ] && [[ ${w[i]} != *']' ]]; do
				i=$((i + 1))
			done
			i=$((i + 1))
		fi
		# URI ARCH COMPONENT...
		[ "$((i + 2))" -lt "${#w[@]}" ] || continue
		uri="${w[i]}" arch="${w[i + 1]}"
		case "$uri" in
			file:///*) dir="${uri#file://}" ;;
			file:/*) dir="${uri#file:}" ;;
			*) continue ;;	# only local repositories are emulated
		esac
		dir="${dir%/}"
		for ((i = i + 2; i < ${#w[@]}; i++)); do
			printf '%s/%s/RPMS.%s\n' "$dir" "$arch" "${w[i]}"
		done
	done <"$deps_source_list"
}

### What the packages are.

# The index of candidate packages: package K is dp_file[K] etc.; provide P
# (of package dp_pv_pkg[P]) and require Q are entries of the dp_pv_* and
# dp_rq_* arrays; dp_prov[NAME] lists the provides named NAME, dp_req[K] the
# requires of package K (space-separated entry numbers).  Files under bin
# and sbin directories and /etc count as provides, as in apt-rpm's
# package lists.
dp_n=0 dp_pv_n=0 dp_rq_n=0
declare -a dp_file=() dp_name=() dp_evr=() dp_nvr=() dp_req=()
declare -a dp_pv_pkg=() dp_pv_flags=() dp_pv_ver=()
declare -a dp_rq_name=() dp_rq_flags=() dp_rq_ver=()
declare -A dp_prov=()

deps_qf='@\t%{NAME}\t%{EPOCH}\t%{VERSION}\t%{RELEASE}\t%{ARCH}\n[P\t%{PROVIDENAME}\t%{PROVIDEFLAGS}\t%{PROVIDEVERSION}\n][R\t%{REQUIRENAME}\t%{REQUIREFLAGS}\t%{REQUIREVERSION}\n][F\t%{FILENAMES}\n]'

# deps_store_records QUERY_OUTPUT CACHEFILE...: split `rpm -qp --qf
# $deps_qf' output into one cache file per package (in argument order),
# each ending with an `E' line so that a torn file is never trusted.
deps_store_records()
{
	local out="$1" line rec= k=1
	shift
	while IFS= read -r line || [ -n "$line" ]; do
		case "$line" in
			'@'$'\t'*)
				if [ "$k" -gt 1 ] || [ -n "$rec" ]; then
					printf '%sE\n' "$rec" >"${!k}" || return 1
					k=$((k + 1))
				fi
				rec="$line"$'\n' ;;
			'F'$'\t'*/bin/*|'F'$'\t'*/sbin/*|'F'$'\t'/etc/*|[PR]$'\t'*)
				rec="$rec$line"$'\n' ;;
		esac
	done <"$out"
	[ -z "$rec" ] || printf '%sE\n' "$rec" >"${!k}"
}

# deps_query FILE...: make sure every FILE has a cache entry with its
# `rpm -qp' data in WORKDIR/cache/emu-rpminfo (named after the file and its
# mtime, ctime, size and inode, so a replaced file is queried again); set
# deps_info[FILE] to the entry.  Files rpm cannot read are left out.  The
# cache is best effort: an entry that cannot be written or read back is
# queried again by deps_index.
declare -A deps_info=()
deps_query()
{
	local cdir="$workdir/cache/emu-rpminfo" line key path name f tmp rc n
	local -a st miss=() entries=() stale=()
	local -A seen=()
	mkdir -p -- "$cdir"
	mapfile -t st < <(stat -c '%.9Y:%.9Z:%s:%i %n' -- "$@" 2>/dev/null)
	for line in "${st[@]}"; do
		key="${line%% *}" path="${line#* }"
		name="${path##*/}"
		name="$cdir/${name:0:180}@$key"
		if [ -f "$name" ]; then
			deps_info[$path]="$name"
		else
			miss+=("$path") entries+=("$name")
		fi
	done
	[ "${#miss[@]}" -gt 0 ] || return 0

	tmp="$cdir/.query.$$"
	rc=0
	run_child rpm -qp --nosignature --nodigest --qf "$deps_qf" -- "${miss[@]}" >"$tmp" 2>/dev/null || rc=$?
	n="$(grep -c $'^@\t' "$tmp" || :)"
	if [ "$rc" -eq 0 ] && [ "$n" -eq "${#miss[@]}" ]; then
		deps_store_records "$tmp" "${entries[@]}" || :
	else
		# One of them is not a package: query them one by one.
		for ((n = 0; n < ${#miss[@]}; n++)); do
			rc=0
			run_child rpm -qp --nosignature --nodigest --qf "$deps_qf" -- "${miss[n]}" >"$tmp" 2>/dev/null || rc=$?
			if [ "$rc" -eq 0 ] && [ "$(grep -c $'^@\t' "$tmp" || :)" -eq 1 ]; then
				deps_store_records "$tmp" "${entries[n]}" || :
			else
				entries[n]=
			fi
		done
	fi
	rm -f -- "$tmp"
	for ((n = 0; n < ${#miss[@]}; n++)); do
		[ -n "${entries[n]}" ] || continue
		deps_info[${miss[n]}]="${entries[n]}"
		# Entries of earlier versions of the same file name go.
		name="${miss[n]##*/}"
		for f in "$cdir/${name:0:180}@"*; do
			[ "$f" = "${entries[n]}" ] || [ -n "${seen[$f]-}" ] || { seen[$f]=1; stale+=("$f"); }
		done
	done
	[ "${#stale[@]}" -eq 0 ] || rm -f -- "${stale[@]}"
}

# deps_load FILE: add the package of FILE (its cache entry) to the index
# when it is for the target architecture or noarch, as apt would take it.
# Fails on an entry that lacks its final `E' line (torn by a kill).
deps_load()
{
	local -a lines
	local line t a b c d e k= j
	mapfile -t lines <"${deps_info[$1]}"
	[ "${#lines[@]}" -gt 1 ] && [ "${lines[${#lines[@]} - 1]}" = E ] || return 1
	for ((j = 0; j < ${#lines[@]} - 1; j++)); do
		line="${lines[j]}"
		t="${line:0:1}" line="${line:2}"
		a="${line%%$'\t'*}" line="${line#*$'\t'}"
		case "$t" in
			@)
				b="${line%%$'\t'*}" line="${line#*$'\t'}"
				c="${line%%$'\t'*}" line="${line#*$'\t'}"
				d="${line%%$'\t'*}" e="${line#*$'\t'}"
				[ "$e" = noarch ] || [ "$e" = "$emu_target" ] || return 0
				k="$dp_n"
				dp_n=$((dp_n + 1))
				dp_file[k]="$1" dp_name[k]="$a" dp_nvr[k]="$a-$c-$d" dp_req[k]=
				[ "$b" = '(none)' ] && dp_evr[k]="$c-$d" || dp_evr[k]="$b:$c-$d"
				;;
			P|R)
				b="${line%%$'\t'*}" c="${line#*$'\t'}"
				if [ "$t" = P ]; then
					dp_pv_pkg[dp_pv_n]="$k" dp_pv_flags[dp_pv_n]="$b" dp_pv_ver[dp_pv_n]="$c"
					dp_prov[$a]="${dp_prov[$a]-} $dp_pv_n"
					dp_pv_n=$((dp_pv_n + 1))
				else
					dp_rq_name[dp_rq_n]="$a" dp_rq_flags[dp_rq_n]="$b" dp_rq_ver[dp_rq_n]="$c"
					dp_req[k]="${dp_req[k]} $dp_rq_n"
					dp_rq_n=$((dp_rq_n + 1))
				fi
				;;
			F)
				dp_pv_pkg[dp_pv_n]="$k" dp_pv_flags[dp_pv_n]=0 dp_pv_ver[dp_pv_n]=
				dp_prov[$a]="${dp_prov[$a]-} $dp_pv_n"
				dp_pv_n=$((dp_pv_n + 1))
				;;
		esac
	done
}

# deps_index: the index of all candidate packages (see above).
deps_index()
{
	local dir f
	local -a files=()
	local -A seen=()
	while IFS= read -r dir; do
		for f in "$dir"/*.rpm; do
			case "$f" in
				*.src.rpm|*.nosrc.rpm) continue ;;
			esac
			[ -f "$f" ] && [ -z "${seen[$f]-}" ] || continue
			seen[$f]=1
			files+=("$f")
		done
	done < <(deps_repo_dirs)
	[ "${#files[@]}" -gt 0 ] || return 0
	deps_query "${files[@]}"
	for f in "${files[@]}"; do
		[ -n "${deps_info[$f]-}" ] || continue
		deps_load "$f" && continue
		# A torn entry: query the file again.
		rm -f -- "${deps_info[$f]}"
		unset 'deps_info[$f]'
		deps_query "$f"
		[ -z "${deps_info[$f]-}" ] || deps_load "$f" || :
	done
}

### Choosing and installing.

# deps_better K L NAME: is package K a better provider of NAME than L?
# apt takes the package of that very name over other providers, then the
# highest version; equal versions are ordered by file name here.
deps_better()
{
	local k="$1" l="$2" name="$3" LC_ALL=C
	if [ "${dp_name[k]}" = "$name" ] && [ "${dp_name[l]}" != "$name" ]; then
		return 0
	elif [ "${dp_name[k]}" != "$name" ] && [ "${dp_name[l]}" = "$name" ]; then
		return 1
	fi
	deps_evr_cmp "${dp_evr[k]}" "${dp_evr[l]}"
	[ "$deps_cmp" -eq 0 ] || { [ "$deps_cmp" -gt 0 ]; return; }
	[[ ${dp_file[k]##*/} < ${dp_file[l]##*/} ]] && return 0
	[[ ${dp_file[k]##*/} > ${dp_file[l]##*/} ]] && return 1
	[[ ${dp_file[k]} < ${dp_file[l]} ]]
}

# deps_find NAME FLAGS EVR: the package to install for a requirement.
# Sets deps_found (a package number, empty if none) and deps_why (`none':
# nothing provides NAME; `version': nothing in the requested range).  A
# package already chosen that satisfies it is taken first.
declare -A deps_chosen=()
deps_find()
{
	local name="$1" flags="$2" evr="$3" p k best=
	deps_found= deps_why=none
	[ -n "${dp_prov[$name]-}" ] || return 1
	deps_why=version
	for p in ${dp_prov[$name]}; do
		k="${dp_pv_pkg[p]}"
		deps_overlap "${dp_pv_flags[p]}" "${dp_pv_ver[p]}" "$flags" "$evr" || continue
		if [ -n "${deps_chosen[$k]-}" ]; then
			best="$k"
			break
		fi
		[ -z "$best" ] || [ "$best" = "$k" ] || deps_better "$k" "$best" "$name" || continue
		best="$k"
	done
	deps_found="$best"
	[ -n "$best" ]
}

# Text of a requirement the way hasher passes it to apt-get (no blanks)
# and the way apt prints it.
deps_op()
{
	case $(( $1 & 14 )) in
		2) deps_op_str='<' deps_op_apt='<<' ;;
		4) deps_op_str='>' deps_op_apt='>>' ;;
		8) deps_op_str='=' deps_op_apt='=' ;;
		10) deps_op_str='<=' deps_op_apt='<=' ;;
		12) deps_op_str='>=' deps_op_apt='>=' ;;
		*) deps_op_str= deps_op_apt= ;;
	esac
}

# Names every hasher chroot has (or gets from the base system) anyway.
# initroot: installed by hsh-initroot already (apt installs nothing);
# base: installed from the pretend base system with an invented version.
deps_base_kind()
{
	case "$1" in
		setup|filesystem|rpm|fakeroot|basesystem|rpm-build|kernel-headers-common|sisyphus_check|time|/proc|/sys|/dev/pts|/bin/sh|/bin/bash)
			deps_kind=initroot ;;
		gcc|gcc-c++|make|rpm-build*|rpm-macros-*|glibc-devel|perl|python3|sh|bash|coreutils|sed|grep|gawk|tar|gzip|bzip2|xz|findutils|diffutils|patch)
			deps_kind=base ;;
		*)
			deps_kind= ;;
	esac
}

# deps_visit K: choose package K and, first, what it requires (apt's
# dependency closure, installed before it as rpm orders them).  A
# requirement nothing in the repositories provides is taken as one the
# base system meets; one provided only outside the requested range is
# unmet (collected in deps_unmet).
declare -a deps_plan=() deps_unmet=()
deps_visit()
{
	local k="$1" q name flags ver
	deps_chosen[$k]=1
	for q in ${dp_req[k]}; do
		name="${dp_rq_name[q]}" flags="${dp_rq_flags[q]}" ver="${dp_rq_ver[q]}"
		case "$name" in
			rpmlib\(*) continue ;;
		esac
		if deps_find "$name" "$flags" "$ver"; then
			[ -n "${deps_chosen[$deps_found]-}" ] || deps_visit "$deps_found"
		elif [ "$deps_why" = version ]; then
			deps_unmet+=("$k"$'\t'"$q")
		fi
	done
	deps_plan+=("$k")
}

# deps_extract K: unpack the payload of package K into the emulated chroot.
deps_extract()
{
	set -o pipefail
	if command -v cpio >/dev/null; then
		rpm2cpio "${dp_file[$1]}" | (cd chroot && cpio -idmu --quiet --no-absolute-filenames)
	else
		rpm2archive - <"${dp_file[$1]}" | tar -xzf - -C chroot
	fi
}

# deps_apt_failed LINE...: what hsh-install shows when apt-get fails: the
# captured apt-get output, then its two messages; the build fails.
deps_apt_failed()
{
	{
		echo 'Reading Package Lists...'
		echo 'Building Dependency Tree...'
		printf '%s\n' "$@"
	} >&2
	PROG=hsh-install emu_message 'Failed to calculate package file list.'
	PROG=hsh-install emu_fatal 'Failed to generate package file list.'
}

# deps_install SRPM: install the build requirements of SRPM into the
# emulated chroot, printing rpmi's lines; log `deps-installed NVR...'.
deps_install()
{
	local srpm="$1" out="$workdir/aptbox/emu-buildreq" line name flags ver lenient=
	local k bad= pretend=
	local -a rq=() top=() nvrs=()
	[ "$knob_deps" != lenient ] || lenient=1

	# A fresh start for every package of an hsh run (the repositories
	# may have grown by the previous one's results).
	dp_n=0 dp_pv_n=0 dp_rq_n=0
	dp_file=() dp_name=() dp_evr=() dp_nvr=() dp_req=()
	dp_pv_pkg=() dp_pv_flags=() dp_pv_ver=()
	dp_rq_name=() dp_rq_flags=() dp_rq_ver=()
	dp_prov=() deps_info=() deps_chosen=() deps_plan=() deps_unmet=()

	run_child rpm -qp --nosignature --nodigest \
		--qf '[%{REQUIRENAME}\t%{REQUIREFLAGS}\t%{REQUIREVERSION}\n]' -- "$srpm" >"$out" ||
		rebuild_fatal "$sname: failed to fetch build dependencies."
	while IFS=$'\t' read -r name flags ver; do
		case "$name" in
			''|rpmlib\(*) continue ;;
		esac
		deps_op "$flags"
		[[ $name =~ ^[[:alnum:]_/] ]] || bad="$bad $name$deps_op_str$ver"
		rq+=("$name"$'\t'"$flags"$'\t'"$ver")
	done <"$out"
	[ -z "$bad" ] || rebuild_fatal "$sname: invalid build dependencies:$bad"

	if [ "${#rq[@]}" -gt 0 ]; then
		deps_index
		# apt-get install ARG...: every argument is looked up first; the
		# first one that is not there ends it.
		for line in "${rq[@]}"; do
			IFS=$'\t' read -r name flags ver <<<"$line"
			if deps_find "$name" "$flags" "$ver"; then
				top+=("$deps_found")
				continue
			fi
			deps_base_kind "$name"
			[ "$deps_kind" != initroot ] || continue
			if [ -n "$deps_kind$lenient" ]; then
				case "$name" in
					*[!A-Za-z0-9_.+-]*) pretend="$pretend $name" ;;
					*) pretend="$pretend $name-1.0-alt1" ;;
				esac
				continue
			fi
			deps_op "$flags"
			if [ "$deps_why" = version ] && [ -n "$deps_op_str" ]; then
				deps_apt_failed "E: Version $deps_op_str'$ver' for '$name' was not found"
			else
				deps_apt_failed "E: Couldn't find package $name"
			fi
		done
		for k in "${top[@]}"; do
			[ -n "${deps_chosen[$k]-}" ] || deps_visit "$k"
		done
		if [ "${#deps_unmet[@]}" -gt 0 ] && [ -z "$lenient" ]; then
			deps_unmet_failed "${#rq[@]}"
		fi
	fi

	# rpmi: the base system's packages, then the chosen ones.
	for name in $pretend; do
		case " ${nvrs[*]} " in
			*" $name "*) continue ;;
		esac
		nvrs+=("$name")
		rpmi_installed "$name"
	done
	for k in "${deps_plan[@]}"; do
		run_child deps_extract "$k" || {
			echo "error: unpacking of archive failed: ${dp_file[k]##*/}" >&2
			PROG=hsh-install emu_fatal 'Packages installation failed.'
		}
		nvrs+=("${dp_nvr[k]}")
		rpmi_installed "${dp_nvr[k]}"
	done
	emu_event "deps-installed${nvrs[*]:+ ${nvrs[*]}}"
}

# deps_unmet_failed NARGS: apt-get's report of unmet dependencies
# (ShowBroken), grouped by package, then the build fails.
deps_unmet_failed()
{
	local nargs="$1" e k q name evr last= pad t l ind
	local -a msg=(
		'Some packages could not be installed. This may mean that you have'
		'requested an impossible situation or if you are using the unstable'
		'distribution that some required packages have not yet been created'
		'or been moved out of Incoming.')
	if [ "$nargs" -eq 1 ]; then
		msg+=('' 'Since you only requested a single operation it is extremely likely that'
			'the package is simply not installable and a bug report against'
			'that package should be filed.')
	fi
	msg+=('The following information may help to resolve the situation:' ''
		'The following packages have unmet dependencies:')
	for e in "${deps_unmet[@]}"; do
		k="${e%%$'\t'*}" q="${e#*$'\t'}"
		name="${dp_rq_name[q]}"
		deps_op "${dp_rq_flags[q]}"
		t="Depends: $name${deps_op_apt:+ ($deps_op_apt ${dp_rq_ver[q]})}"
		# What apt would install under that name instead, if it is a
		# real package (for a virtual one apt says nothing more).
		evr=
		for l in ${dp_prov[$name]-}; do
			l="${dp_pv_pkg[l]}"
			[ "${dp_name[l]}" = "$name" ] || continue
			if [ -z "$evr" ] || deps_better "$l" "$evr" "$name"; then
				evr="$l"
			fi
		done
		[ -z "$evr" ] || t="$t but ${dp_evr[evr]} is to be installed"
		if [ "$k" = "$last" ]; then
			printf -v pad '%*s' "$ind" ''
			msg+=("$pad $t")
		else
			ind=$(( ${#dp_name[k]} + 3 ))
			msg+=("  ${dp_name[k]}: $t")
		fi
		last="$k"
	done
	msg+=('E: Broken packages')
	deps_apt_failed "${msg[@]}"
}
