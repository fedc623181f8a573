# bash completion for kfts-index
_kfts_index() {
  local cur prev
  cur=${COMP_WORDS[COMP_CWORD]}
  prev=${COMP_WORDS[COMP_CWORD-1]}
  case $prev in
    --db|--manifest) COMPREPLY=($(compgen -f -- "$cur")); return ;;
  esac
  case $cur in
    -*) COMPREPLY=($(compgen -W "--db --manifest --full --optimize --follow-symlinks --json --dump --suggest-aliases --quiet --help --version" -- "$cur")); return ;;
  esac
  COMPREPLY=($(compgen -f -- "$cur"))
}
complete -F _kfts_index kfts-index
