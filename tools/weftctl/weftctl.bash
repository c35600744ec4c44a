# bash completion for weftctl
_weftctl() {
    local cur prev words cword
    _init_completion || return

    local commands="ping status show topology doctor network-sync recompute list-hosts list-ports dump-flows trace verify set-policy
        get-policy segment-add segment-del segment-list group-add group-del
        group-list rule-add rule-del rule-list mirror-add mirror-del mirror-list
        mirror-show limit-add limit-del limit-list export-add export-del
        export-list policy-history policy-rollback
        app-load app-unload app-reload app-list"
    local options="--socket --format --timeout --dry-run --probe --help --version"

    case $prev in
    --socket|-s) _filedir; return ;;
    --format|-f) COMPREPLY=($(compgen -W "text json" -- "$cur")); return ;;
    --timeout|-t) return ;;
    set-policy|app-load) _filedir; return ;;
    esac

    local i cmd=
    for ((i = 1; i < cword; i++)); do
        case ${words[i]} in
        -*) ;;
        *) cmd=${words[i]}; break ;;
        esac
    done
    if [[ -z $cmd ]]; then
        if [[ $cur == -* ]]; then
            COMPREPLY=($(compgen -W "$options" -- "$cur"))
        else
            COMPREPLY=($(compgen -W "$commands" -- "$cur"))
        fi
        return
    fi
    case $cmd in
    segment-add) COMPREPLY=($(compgen -W "vlan= vni= isolated" -- "$cur")) ;;
    group-add) COMPREPLY=($(compgen -W "segments= labels= vnics= cidrs= groups=" -- "$cur")) ;;
    topology) if [[ $prev == png ]]; then _filedir png; else COMPREPLY=($(compgen -W "dot png" -- "$cur")); fi ;;
    mirror-add) COMPREPLY=($(compgen -W "sources=vnic: sources=group: sources=segment: to=vnic: to=host: direction=both direction=ingress direction=egress" -- "$cur")) ;;
    limit-add) COMPREPLY=($(compgen -W "targets=vnic: targets=group: targets=segment: rate= burst= direction=both direction=ingress direction=egress" -- "$cur")) ;;
    export-add) COMPREPLY=($(compgen -W "sflow ipfix netflow collectors= sampling= polling= header= active-timeout= cache-max-flows=" -- "$cur")) ;;
    rule-add) COMPREPLY=($(compgen -W "allow deny from= to= proto= ports= priority= stateless" -- "$cur")) ;;
    *) COMPREPLY=($(compgen -W "--dry-run" -- "$cur")) ;;
    esac
    [[ ${COMPREPLY-} == *= ]] && compopt -o nospace
}
complete -F _weftctl weftctl
