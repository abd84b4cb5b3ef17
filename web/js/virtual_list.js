// A fixed-row-height virtual scroller: however many items there are, only the rows in view
// (plus a small overscan) exist in the DOM. Rows are reused as the window moves.

export class VirtualList {
  // createRow() returns a new row element; updateRow(el, index) fills it for item `index`.
  constructor({rowHeight, overscan = 10, createRow, updateRow, attrs = {}}) {
    this.rowHeight = rowHeight;
    this.overscan = overscan;
    this.createRow = createRow;
    this.updateRow = updateRow;
    this.count = 0;
    this.pool = [];
    this.frame = 0;
    this.el = document.createElement('div');
    this.el.className = 'vlist';
    this.el.tabIndex = 0;
    for (const [k, v] of Object.entries(attrs)) this.el.setAttribute(k, v);
    this.spacer = document.createElement('div');
    this.spacer.className = 'vlist-spacer';
    this.el.appendChild(this.spacer);
    this.el.addEventListener('scroll', () => this.schedule(), {passive: true});
    this.onResize = () => this.schedule();
    window.addEventListener('resize', this.onResize);
  }

  setCount(n) {
    this.count = n;
    const px = n * this.rowHeight;
    this.spacer.style.height = px + 'px';
    this.el.style.height = Math.max(px, this.rowHeight) + 2 + 'px';
  }

  // Re-renders the visible window at the next animation frame.
  schedule() {
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      this.render();
    });
  }

  // Re-renders the visible window now. Rows that stay in view keep their index (updateRow
  // may skip them cheaply); rows that left the window are reused for those entering it.
  render() {
    const rh = this.rowHeight;
    const viewport = this.el.clientHeight || window.innerHeight;
    const top = this.el.scrollTop;
    const start = Math.max(0, Math.floor(top / rh) - this.overscan);
    const end = Math.min(this.count, Math.ceil((top + viewport) / rh) + this.overscan);
    const free = [];
    const kept = new Map();
    for (const row of this.pool) {
      const index = row.__index;
      if (index >= start && index < end && !kept.has(index)) kept.set(index, row);
      else free.push(row);
    }
    const pool = [];
    for (let index = start; index < end; index++) {
      let row = kept.get(index);
      if (!row) {
        row = free.pop();
        if (!row) {
          row = this.createRow();
          row.style.position = 'absolute';
          row.style.left = '0';
          row.style.right = '0';
          row.style.height = rh + 'px';
          this.spacer.appendChild(row);
        }
        row.__index = index;
        row.style.transform = `translateY(${index * rh}px)`;
      }
      this.updateRow(row, index);
      pool.push(row);
    }
    for (const row of free) row.remove();
    this.pool = pool;
  }

  // Forgets which item each row shows, so that the next render fills every row again.
  invalidate() {
    for (const row of this.pool) row.__index = -1;
    this.schedule();
  }

  scrollToTop() {
    this.el.scrollTop = 0;
  }

  destroy() {
    if (this.frame) cancelAnimationFrame(this.frame);
    window.removeEventListener('resize', this.onResize);
  }
}
