# bash completion for batonctl: verbs, their second words, and the global flags.
_batonctl() {
  local cur prev words cword
  _init_completion || return
  local globals="-s --socket --json --timeout -h --help"
  local first="status ping info redis node nodes drain lease elect rate dedup state cache events secret session breaker watch lock"
  case $prev in
  -s | --socket)
    _filedir
    return
    ;;
  --timeout | --ttl | --wait | --grace | --cost) return ;;
  --file)
    _filedir
    return
    ;;
  esac
  # The verb: the first word that is not a global flag or its value.
  local i verb="" second=""
  for ((i = 1; i < cword; i++)); do
    case ${words[i]} in
    -s | --socket | --timeout) ((i++)) ;;
    --) return ;; # COMMAND's own words
    -*) ;;
    *)
      if [[ -z $verb ]]; then verb=${words[i]}; elif [[ -z $second ]]; then second=${words[i]}; fi
      ;;
    esac
  done
  if [[ -z $verb ]]; then
    COMPREPLY=($(compgen -W "$first $globals" -- "$cur"))
    return
  fi
  local seconds=""
  case $verb in
  node) seconds="list info drain" ;;
  lease) seconds="acquire info list release" ;;
  elect) seconds="leader watch" ;;
  rate) seconds="check peek reset" ;;
  dedup) seconds="get" ;;
  state) seconds="get set del keys count clear export import" ;;
  cache) seconds="get set invalidate stats" ;;
  events) seconds="publish read group" ;;
  secret) seconds="get verify info put rotate rewrap" ;;
  session) seconds="get list close" ;;
  breaker) seconds="list state force" ;;
  watch) seconds="leases elect sessions secrets breakers" ;;
  lock) COMPREPLY=($(compgen -W "--ttl --wait --grace --" -- "$cur")) && return ;;
  esac
  if [[ -n $seconds && -z $second ]]; then
    COMPREPLY=($(compgen -W "$seconds" -- "$cur"))
  elif [[ $cur == -* ]]; then
    COMPREPLY=($(compgen -W "--json -h --wait --force --cost --file --ttl --grace --if-version --resume --pattern --from --count --block" -- "$cur"))
  fi
} && complete -F _batonctl batonctl
