# shellcheck shell=bash
# bash completion for harden: asks harden itself (System.CommandLine's [suggest] directive), so the
# completions are always the commands, options and values of the installed binary.
_harden()
{
    local line="${COMP_LINE:0:COMP_POINT}"
    local args=""
    [[ "$line" == *[[:space:]]* ]] && args="${line#*[[:space:]]}"
    local IFS=$'\n' words
    words=$(compgen -W "$(harden "[suggest:${#args}]" "$args" 2>/dev/null)" -- "${COMP_WORDS[COMP_CWORD]}")
    COMPREPLY=()
    [ -n "$words" ] && mapfile -t COMPREPLY <<< "$words"
}
complete -o default -F _harden harden
