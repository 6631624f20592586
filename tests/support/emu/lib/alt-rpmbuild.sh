# alt-rpmbuild.sh - ALT's rpmbuild options the host's rpm lacks (sourced by
# hsh and by the emulated chroot's rpmbuild).  A test fixture.

# alt_rpmbuild_options NAME: rewrite the array NAME in place:
# `--enable X' / `--disable X' (and `--enable=X') define `_enable_X' /
# `_disable_X', as ALT's rpmbuild does; everything else is kept.
alt_rpmbuild_options()
{
	local -n a_ref="$1"
	local -a r=()
	local o
	while [ "${#a_ref[@]}" -gt 0 ]; do
		case "${a_ref[0]}" in
			--enable|--disable)
				if [ "${#a_ref[@]}" -lt 2 ]; then
					printf 'rpmbuild: %s needs an argument\n' "${a_ref[0]}" >&2
					return 1
				fi
				r+=(--define "_${a_ref[0]#--}_${a_ref[1]} 1")
				a_ref=("${a_ref[@]:1}") ;;
			--enable=*|--disable=*)
				o="${a_ref[0]%%=*}"
				r+=(--define "_${o#--}_${a_ref[0]#*=} 1") ;;
			*) r+=("${a_ref[0]}") ;;
		esac
		a_ref=("${a_ref[@]:1}")
	done
	a_ref=("${r[@]}")
}
