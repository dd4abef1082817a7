key() { ipcs -s | awk -v id="$1" '$2 == id {print $1}'; }
echo "== ipcmk"; ipcmk -S 3; ipcmk -S 1 -p 0600; ipcmk -S 5 -p 0640; ipcmk -S 2 -p 0400
echo "== ipcs -s"; ipcs -s
echo "== ipcs -s -i 0"; ipcs -s -i 0
echo "== ipcs -s -i 2"; ipcs -s -i 2
echo "== ipcs -l"; ipcs -l
echo "== ipcs -s -l"; ipcs -s -l
echo "== ipcs -s -c"; ipcs -s -c
echo "== ipcs -s -p"; ipcs -s -p
echo "== ipcs -s -t"; ipcs -s -t
echo "== ipcs -s -u"; ipcs -s -u
echo "== ipcs -s -b"; ipcs -s -b
echo "== lsipc -s"; lsipc -s -o KEY,ID,OWNER,PERMS,CUID,CGID,UID,GID,NSEMS,CTIME,OTIME --time-format=full
echo "== lsipc -s -i 2"; lsipc -s -i 2 --time-format=full
echo "== lsipc -s -i 3 --json"; lsipc -s -i 3 --json --time-format=full
echo "== lsipc -s -i 9"; lsipc -s -i 9 2>&1; echo "rc=$?"
echo "== lsipc -g"; lsipc -g --noheadings -o RESOURCE,USED,LIMIT | grep '^SEM'
echo "== ipcrm -s 0"; ipcrm -s 0; echo "rc=$?"
K1=$(key 1)
echo "== ipcrm -S key-of-1"; ipcrm -S "$K1"; echo "rc=$?"
echo "== ipcs -s"; ipcs -s
echo "== ipcrm -s 0 again"; ipcrm -s 0 2>&1; echo "rc=$?"
echo "== ipcrm -S removed key"; ipcrm -S "$K1" 2>&1; echo "rc=$?"
echo "== ipcs -s -i 1 removed"; ipcs -s -i 1 2>&1; echo "rc=$?"
echo "== ipcmk reuses slot"; ipcmk -S 4
echo "== ipcs -s"; ipcs -s
echo "== ipcrm --all=sem"; ipcrm --all=sem; echo "rc=$?"
echo "== ipcs -s"; ipcs -s
echo "== ipcs -s -u"; ipcs -s -u
